"""The sample dossier as a reader sees it: Chromium's screenshots and print, and the PDF's pages.

No check reads the DOM or runs script. Overflow is found in pictures: ink in a margin that
the layout keeps empty means a table or a line ran past its column.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from browser import run_chromium
from pages import ink_in_right_margin, page_images

# The dossier's @page margins in dossier.css are 18 mm top, 14 mm right and 20 mm bottom; the
# check looks at the outer 10 mm of the right one.
RIGHT_MARGIN_MM = 10
TOP_MM = 18
BOTTOM_MM = 20
RESOLUTION = 40


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chromium")
    done = subprocess.run(
        [sys.executable, "-m", "irreport", "build", "--device", "testmachine3", "--out",
         str(out), "--name", "sample"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out / "sample"


def screenshot(profile: Path, page: Path, target: Path, width: int, height: int):
    from PIL import Image

    done = run_chromium(profile, f"--window-size={width},{height}", f"--screenshot={target}",
                        page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    return Image.open(target).convert("L")


def dark_columns(image, left: int, right: int) -> list[int]:
    pixels = image.load()
    return [x for x in range(left, right)
            if any(pixels[x, y] < 240 for y in range(0, image.size[1], 2))]


def test_screenshot_shows_dossier(sample, tmp_path):
    image = screenshot(tmp_path / "profile", sample / "dossier.html", tmp_path / "shot.png",
                       1400, 5000)

    assert image.size == (1400, 5000)
    # The body is at most 1200 px wide and centred, so the outer 80 px on each side are empty.
    assert dark_columns(image, 0, 80) == []
    assert dark_columns(image, 1320, 1400) == []
    assert len(dark_columns(image, 80, 1320)) > 1000


@pytest.mark.parametrize("width", [1000, 800])
def test_narrow_window_no_overflow(sample, tmp_path, width):
    """A table or line wider than the window would draw into the body's 24 px padding."""
    image = screenshot(tmp_path / "profile", sample / "dossier.html", tmp_path / "shot.png",
                       width, 12000)

    assert dark_columns(image, width - 20, width) == []


def test_chromium_print_stays_in_margins(sample, tmp_path):
    printed = tmp_path / "printed.pdf"
    done = run_chromium(tmp_path / "profile", "--no-pdf-header-footer",
                        f"--print-to-pdf={printed}", (sample / "dossier.html").resolve().as_uri(),
                        timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    pages = page_images(printed, tmp_path / "pages", RESOLUTION)
    assert len(pages) > 10
    for page in pages:
        assert ink_in_right_margin(page, RESOLUTION, RIGHT_MARGIN_MM, TOP_MM, BOTTOM_MM) == 0, \
            page.name


def test_pdf_stays_in_margins(sample, tmp_path):
    pages = page_images(sample / "dossier.pdf", tmp_path / "pages", RESOLUTION)

    assert len(pages) > 10
    for page in pages:
        assert ink_in_right_margin(page, RESOLUTION, RIGHT_MARGIN_MM, TOP_MM, BOTTOM_MM) == 0, \
            page.name
