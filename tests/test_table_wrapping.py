"""Where the dossier's query tables may wrap a cell, and how wide their columns may get."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from pages import ink_in_right_margin, page_images
from pdf_words import split_occurrences
from irreport.render.html import environment
from irreport.render.pdf import render_pdf
from irreport.render.views import Cell, TableView
from irreport.render.wrapping import LONG_PIECE_CHUNK, MAX_WORD_CHARS, word_pieces

HASH = "5c1e7f1a2b3d4e5f60718293a4b5c6d7e8f90123"
TIME = "2026-12-02 14:42:05.127Z"
# The dossier's @page margins in dossier.css are 18 mm top, 14 mm right and 20 mm bottom. The
# check looks at the outer 10 mm of the right one.
RIGHT_MARGIN_MM = 10
TOP_MM = 18
BOTTOM_MM = 20
RESOLUTION = 40


def test_pieces_split_at_path_separators():
    assert word_pieces(r"C:\Windows\System32\cmd.exe", MAX_WORD_CHARS) == [
        "C:\\", "Windows\\", "System32\\", "cmd.exe"]
    assert word_pieces("http://203.0.113.77/a.ps1", MAX_WORD_CHARS) == [
        "http:/", "/", "203.0.113.77/", "a.ps1"]


def test_pieces_split_camel_case():
    assert word_pieces("UserAccountAddedToLocalGroup", MAX_WORD_CHARS) == [
        "User", "Account", "Added", "To", "Local", "Group"]


def test_pieces_split_camel_case_of_headers():
    assert word_pieces("DeviceName", MAX_WORD_CHARS, camel_case_chars=0) == ["Device", "Name"]
    assert word_pieces("DeviceName", MAX_WORD_CHARS) == ["DeviceName"]
    assert word_pieces("ConnectionSuccess", MAX_WORD_CHARS) == ["Connection", "Success"]


def test_pieces_split_iso_time_before_t():
    assert word_pieces("2026-12-02T14:42:05.589Z", MAX_WORD_CHARS) == [
        "2026-12-02", "T14:42:05.589Z"]


def test_pieces_split_after_hyphen_before_letter():
    assert word_pieces("scheduled-task-persistence", MAX_WORD_CHARS) == [
        "scheduled-", "task-", "persistence"]


def test_pieces_keep_ordinary_words_whole():
    for word in ["testmachine3", "administrator1", "14:42:05.127Z", "powershell.exe",
                 "2026-12-02", "support_svc", "PowerShell", "AnyDesk_setup.exe", "WebClient",
                 "MsMpEng.exe"]:
        assert word_pieces(word, MAX_WORD_CHARS) == [word]


def test_long_piece_wraps_after_punctuation():
    assert word_pieces("systeminfo.exe", 12) == ["systeminfo.", "exe"]
    assert word_pieces("update.check.example.net", MAX_WORD_CHARS) == [
        "update.", "check.", "example.", "net"]


def test_long_piece_wraps_in_chunks():
    assert word_pieces(HASH, MAX_WORD_CHARS) == [
        HASH[i:i + LONG_PIECE_CHUNK] for i in range(0, len(HASH), LONG_PIECE_CHUNK)]
    assert word_pieces(HASH, 4) == [HASH[i:i + 4] for i in range(0, len(HASH), 4)]


def test_hash_kept_whole_up_to_hash_chars():
    assert word_pieces(HASH, MAX_WORD_CHARS, hash_chars=40) == [HASH]
    assert word_pieces("SHA1:" + HASH, MAX_WORD_CHARS, hash_chars=40)[-1] == HASH
    assert len(word_pieces(HASH, MAX_WORD_CHARS, hash_chars=32)) == 4
    assert len(word_pieces("g" * 40, MAX_WORD_CHARS, hash_chars=40)) == 4


@given(st.text(st.characters(blacklist_categories=("Zs", "Cc")), min_size=1, max_size=80),
       st.integers(min_value=1, max_value=MAX_WORD_CHARS))
def test_pieces_rebuild_word_within_limit(word, limit):
    pieces = word_pieces(word, limit)

    assert "".join(pieces) == word
    assert all(0 < len(piece) <= limit for piece in pieces)


def test_word_limit_of_small_table():
    view = TableView(["Timestamp", "DeviceName", "SHA1"],
                     [[Cell(TIME), Cell("testmachine3"), Cell(HASH)]], 1)

    assert view.word_limit == MAX_WORD_CHARS


def test_hash_chars_of_narrow_and_wide_tables():
    indicators = TableView(["Kind", "Value", "Context"],
                           [[Cell("SHA1"), Cell(HASH), Cell("odupdate.exe")]], 1)
    assert indicators.hash_chars == 64
    assert wide_table(10, "wordabcdefghijk").hash_chars == 0
    crowded = wide_table(10, "wordabcdefghijk")
    crowded.rows[0][0] = Cell(HASH)
    assert crowded.hash_chars < len(HASH)


def test_pdf_keeps_hash_whole_in_narrow_table(tmp_path):
    view = TableView(["Kind", "Value", "Context", "First seen"],
                     [[Cell("SHA1"), Cell(HASH), Cell("odupdate.exe: downloaded by certutil.exe"),
                       Cell(TIME)]], 1)

    text = PdfReader(table_pdf(view, tmp_path)).pages[0].extract_text()

    assert HASH in text
    assert split_occurrences(text, HASH) == []


def wide_table(columns: int, word: str) -> TableView:
    """Return a table whose every cell contains *word*, the worst case for the page width."""
    return TableView([f"Column{i}" for i in range(columns)],
                     [[Cell(f"{word}{i}") for i in range(columns)]], 1)


def test_word_limit_lowered_for_many_columns():
    assert wide_table(10, "wordabcdefghijk").word_limit < 16
    assert wide_table(4, "wordabcdefghijk").word_limit == MAX_WORD_CHARS


def table_pdf(view: TableView, folder: Path) -> Path:
    css = (Path(__file__).resolve().parent.parent / "templates" / "dossier.css").read_text()
    body = environment().from_string(
        '{% from "macros.html.j2" import table %}{{ table(view) }}').render(view=view)
    page = f"<!DOCTYPE html><html><head><style>{css}</style></head><body>{body}</body></html>"
    target = folder / "table.pdf"
    assert render_pdf(page, target) == []
    return target


def test_wide_table_stays_in_margins(tmp_path):
    pdf = table_pdf(wide_table(10, "wordabcdefghijk"), tmp_path)

    for page in page_images(pdf, tmp_path / "pages", RESOLUTION):
        assert ink_in_right_margin(page, RESOLUTION, RIGHT_MARGIN_MM, TOP_MM, BOTTOM_MM) == 0, \
            page.name


def test_pdf_cells_wrap_between_pieces(tmp_path):
    # The columns of the malicious-activity evidence, where fixed equal widths split
    # timestamps and file names letter by letter.
    command = "powershell.exe -enc " + "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAu" * 3
    view = TableView(["Timestamp", "DeviceName", "Category", "ActionType", "Outcome", "Detail",
                      "SHA1", "ProcessCommandLine", "InitiatingProcessFileName"],
                     [[Cell("2026-12-02 14:49:01.143Z"), Cell("testmachine3"), Cell("Tampering"),
                       Cell("TamperingAttempt"), Cell("Blocked"), Cell("administrator1"),
                       Cell(HASH), Cell(command), Cell("powershell.exe")]], 1)

    text = PdfReader(table_pdf(view, tmp_path)).pages[0].extract_text()

    for word in ["2026-12-02", "14:49:01.143Z", "testmachine3", "Tampering", "administrator1",
                 "powershell.exe"]:
        assert word in text, word
        assert split_occurrences(text, word) == [], word
    assert split_occurrences(text, HASH)
