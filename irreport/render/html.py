"""Rendering the dossier HTML with jinja2, autoescape on."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from irreport.plural import counted, pluralize
from irreport.render.views import CELL_LIMIT
from irreport.render.wrapping import MAX_CAMEL_CASE_CHARS, word_pieces
from irreport.textsafe import shorten, visible

_WHITE_SPACE = re.compile(r"(\s+)")
_WRAP_OPPORTUNITY = markupsafe.Markup("<wbr>")


def templates_dir() -> Path:
    """Locate `templates/`, inside the wheel or at the top of a checkout."""
    installed = Path(str(resources.files("irreport"))) / "templates"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent.parent / "templates"


def visible_text(value: Any, limit: int = CELL_LIMIT) -> str:
    """Template filter: show hidden characters and cut long values; autoescape does the rest."""
    return shorten(visible(value), limit)[0]


def with_wrap_points(value: Any, word_limit: int, header: bool = False,
                     hash_chars: int = 0) -> markupsafe.Markup:
    """Template filter: escape a table cell's text and mark where a narrow column may wrap it.

    A <wbr> goes between the pieces that `word_pieces` returns for *word_limit* and
    *hash_chars*; a *header* also wraps between the words of every CamelCase name. The result is markup, which
    `show_hidden` leaves alone, so hidden characters are made visible here.
    """
    camel_case_chars = 0 if header else MAX_CAMEL_CASE_CHARS
    parts = []
    for part in _WHITE_SPACE.split(visible(value, keep_breaks=True)):
        if not part or part.isspace():
            parts.append(markupsafe.escape(part))
        else:
            parts.append(_WRAP_OPPORTUNITY.join(markupsafe.escape(piece)
                                                for piece in word_pieces(part, word_limit,
                                                                        camel_case_chars,
                                                                        hash_chars)))
    return markupsafe.Markup("").join(parts)


def show_hidden(value: Any) -> Any:
    """Mark hidden characters in every string a template prints, wherever it came from.

    Titles, finding statements and gap messages carry process, file and account names that
    no table cell or `visible` filter has seen. Markup, such as the output of a macro or the
    bundled CSS, was built by irreport and is left alone.
    """
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value, keep_breaks=True)
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        finalize=show_hidden,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["visible"] = visible_text
    env.filters["with_wrap_points"] = with_wrap_points
    env.filters["counted"] = counted
    env.filters["pluralize"] = pluralize
    return env


def render_html(template: str, context: dict[str, Any]) -> str:
    env = environment()
    css = (templates_dir() / "dossier.css").read_text(encoding="utf-8")
    return env.get_template(template).render(css=css, **context)
