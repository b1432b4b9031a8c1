"""Pictures of PDF pages from poppler's pdftoppm, and a check that ink stays inside the margins."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

MM_PER_INCH = 25.4


def pdftoppm() -> str:
    """Return pdftoppm; fail in CI, which installs poppler-utils, and skip elsewhere."""
    path = shutil.which("pdftoppm")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("pdftoppm is missing; .ci/run installs poppler-utils with apt-get")
    pytest.skip("pdftoppm (poppler-utils) is not installed")


def page_images(pdf: Path, folder: Path, resolution: int = 40) -> list[Path]:
    """Render every page of *pdf* as a PNG in *folder*; returns them in page order."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([pdftoppm(), "-r", str(resolution), "-png", str(pdf), str(folder / "page")],
                   check=True, capture_output=True, timeout=300)
    return sorted(folder.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def ink_in_right_margin(image_path: Path, resolution: int, margin_mm: float, top_mm: float,
                        bottom_mm: float) -> int:
    """Count dark pixels in the right margin of a page, between its top and bottom margins.

    Running headers and footers sit in the top and bottom margins, so only text or a table
    that overflowed its column marks the right one.
    """
    from PIL import Image

    image = Image.open(image_path).convert("L")
    width, height = image.size
    pixels = image.load()
    per_mm = resolution / MM_PER_INCH
    left = int(width - margin_mm * per_mm)
    top = int(top_mm * per_mm)
    bottom = int(height - bottom_mm * per_mm)
    return sum(1 for x in range(left, width) for y in range(top, bottom) if pixels[x, y] < 240)
