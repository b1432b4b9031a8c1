"""Words in text read back from a PDF, where a line break inside a word means it was split."""

from __future__ import annotations

import re


def split_occurrences(text: str, word: str) -> list[str]:
    """Return each occurrence of *word* in *text* that a line break splits, as it appears."""
    pattern = "\n?".join(re.escape(character) for character in word)
    return [match for match in re.findall(pattern, text) if "\n" in match]
