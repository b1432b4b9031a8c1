"""`irreport build`: the incident dossier."""
