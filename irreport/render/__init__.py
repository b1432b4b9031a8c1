"""Rendering the dossier: jinja2 templates to HTML, weasyprint to PDF."""
