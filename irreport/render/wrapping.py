"""Wrap points in the cells of the dossier's query tables, at the sensible places of a word.

The dossier's query tables size their columns by content (table.data in dossier.css), and a
column is then as wide as the widest piece of text it must keep on one line. The template puts
a <wbr> between the pieces that `word_pieces` returns, and `word_limit` keeps the pieces of one
table short enough that its columns fit between the page margins.
"""

from __future__ import annotations

import re

# Places inside a run of non-space characters where a cell may wrap. They are after a path
# separator (C:\Windows\, DOMAIN\user, URLs), before the T of an ISO 8601 time
# (2026-12-02T14:42:05Z) and after a hyphen before a letter. Unicode line breaking allows that
# last break anyway, but none after the hyphens of 2026-12-02.
WRAP_POINT = re.compile(r"(?<=[\\/])(?=\S)|(?<=\d)(?=T\d\d:)|(?<=-)(?=[^\W\d_])")
# Further wrap points for a piece too long to keep whole: after punctuation that separates the
# parts of a file, host or list name (systeminfo.exe, update-check.example.net, a,b), then
# between a lower-case and an upper-case letter.
LONG_PIECE_WRAP_POINT = re.compile(r"(?<=[.,:;=_])(?=[^.,:;=_])")
CAMEL_CASE_WRAP_POINT = re.compile(r"(?<=[a-z])(?=[A-Z])")
# A name of letters and digits longer than this wraps between its words even when it would fit
# (ConnectionSuccess, UserAccountAddedToLocalGroup), as Defender's action types and column names
# fill narrow columns. Shorter ones such as PowerShell or WebClient stay whole.
MAX_CAMEL_CASE_CHARS = 10
# The maximum length of a piece between wrap points that a table keeps on one line. A longer
# piece wraps at LONG_PIECE_WRAP_POINT, and a part still too long (a hash, an encoded command)
# every LONG_PIECE_CHUNK characters.
MAX_WORD_CHARS = 18
LONG_PIECE_CHUNK = 10
# MD5, SHA1 and SHA256 hashes in hex. A responder copies them from the dossier, so a table keeps
# them whole when its columns still fit (`whole_hash_chars`).
HASH = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
# The width between the A4 margins and a cell's padding and borders, in points (dossier.css),
# and the font size of a table, from which each column's narrowest width is estimated.
TABLE_WIDTH_PT = 182 / 25.4 * 72
CELL_PADDING_PT = 6.2
TABLE_FONT_PT = 7
# Advance widths in em of DejaVu Sans, rounded up from the means of its lower-case letters
# (0.563), digits (0.636), the punctuation in NARROW_CHARACTERS (0.351) and capitals (0.673),
# which also stand for every other character. Bold, in the headers, is about 13% wider.
# NOTE: wide capitals (M, W) and wide symbols exceed these, so a table of many columns that
# are all as narrow as the estimate allows can still overflow by a few percent.
LOWER_CASE_EM = 0.57
DIGIT_EM = 0.64
NARROW_EM = 0.40
OTHER_EM = 0.70
BOLD_FACTOR = 1.13
NARROW_CHARACTERS = frozenset(".,:;'!|()[]\\/-")


def word_pieces(word: str, limit: int, camel_case_chars: int = MAX_CAMEL_CASE_CHARS,
                hash_chars: int = 0) -> list[str]:
    """Split *word*, text without white space, into the pieces that a line keeps whole.

    The word is split at WRAP_POINT. A hash of up to *hash_chars* characters stays whole. A
    piece longer than *limit* is split again at LONG_PIECE_WRAP_POINT, and so is a name of
    letters and digits longer than *camel_case_chars* at CAMEL_CASE_WRAP_POINT. Column headers
    pass 0, so DeviceName wraps as Device Name. A part still longer than *limit* is cut into
    chunks of LONG_PIECE_CHUNK characters, or of *limit* when that is smaller.
    """
    chunk = min(LONG_PIECE_CHUNK, limit)
    pieces = []
    for piece in WRAP_POINT.split(word):
        if len(piece) <= limit and not _long_name(piece, camel_case_chars):
            pieces.append(piece)
            continue
        for part in LONG_PIECE_WRAP_POINT.split(piece):
            if len(part) <= hash_chars and HASH.fullmatch(part):
                pieces.append(part)
                continue
            long_name = len(part) > limit or _long_name(part, camel_case_chars)
            words = CAMEL_CASE_WRAP_POINT.split(part) if long_name else [part]
            for name in words:
                if len(name) <= limit:
                    pieces.append(name)
                else:
                    pieces.extend(name[i:i + chunk] for i in range(0, len(name), chunk))
    return [piece for piece in pieces if piece]


def _long_name(piece: str, camel_case_chars: int) -> bool:
    return len(piece) > camel_case_chars and piece.isalnum()


def word_limit(columns: list[str], rows: list[list[str]]) -> int:
    """Return the longest piece of text that a cell keeps on one line in a table of *rows*.

    A column is at least as wide as its widest piece under this limit, or a chunk of a
    longer piece. The limit is MAX_WORD_CHARS, lowered until those widths of every column
    fit side by side between the page margins. A table with many columns of long names then
    wraps some of them in chunks, because a table wider than its narrowest layout runs off
    the page.
    """
    pieces = _table_pieces(columns, rows)
    available_em = _available_em(columns)
    limit = MAX_WORD_CHARS
    while limit > 1 and _narrowest_em(pieces, limit) > available_em:
        limit -= 1
    return limit


def whole_hash_chars(columns: list[str], rows: list[list[str]], limit: int) -> int:
    """Return the length of the longest hash (64, 40 or 32) that the table can keep whole.

    The table's other pieces wrap at *limit*, its `word_limit`. The result is 0 when the
    table contains no hash or when not even an MD5 fits on one line beside the other columns.
    """
    pieces = _table_pieces(columns, rows)
    if not any(HASH.search(piece) for _, cells in pieces for piece in cells):
        return 0
    available_em = _available_em(columns)
    for hash_chars in (64, 40, 32):
        if _narrowest_em(pieces, limit, hash_chars) <= available_em:
            return hash_chars
    return 0


def _table_pieces(columns: list[str], rows: list[list[str]]) -> list[tuple[set[str], set[str]]]:
    return [(_unbroken(column), _unbroken(*(row[i] for row in rows)))
            for i, column in enumerate(columns)]


def _available_em(columns: list[str]) -> float:
    return (TABLE_WIDTH_PT - CELL_PADDING_PT * len(columns)) / TABLE_FONT_PT


def _narrowest_em(columns: list[tuple[set[str], set[str]]], limit: int,
                  hash_chars: int = 0) -> float:
    """Return the estimated width in em of a table with each column at its narrowest."""
    return sum(max(_widest_em(header, limit, 0) * BOLD_FACTOR,
                   _widest_em(cells, limit, hash_chars=hash_chars))
               for header, cells in columns)


def _unbroken(*texts: str) -> set[str]:
    """Return the pieces of *texts* between white space and wrap points."""
    return {piece for text in texts for word in text.split()
            for piece in WRAP_POINT.split(word) if piece}


def _widest_em(pieces: set[str], limit: int,
               camel_case_chars: int = MAX_CAMEL_CASE_CHARS, hash_chars: int = 0) -> float:
    """Return the estimated width in em of the widest of *pieces* once split for *limit*."""
    return max((_estimated_width_em(p) for piece in pieces
                for p in word_pieces(piece, limit, camel_case_chars, hash_chars)),
               default=0.0)


def _estimated_width_em(text: str) -> float:
    return sum(LOWER_CASE_EM if c.islower() else DIGIT_EM if c.isdigit()
               else NARROW_EM if c in NARROW_CHARACTERS else OTHER_EM
               for c in text)

