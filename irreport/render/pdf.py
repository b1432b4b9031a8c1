"""Rendering the dossier PDF with weasyprint, which may fetch nothing but inline data.

Telemetry can hold URLs, and a URL that reached the renderer as an image or stylesheet would
make it connect out while building evidence. The URL fetcher below serves `data:` URIs and
files inside the package's templates folder, and refuses everything else.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from irreport.errors import RenderError
from irreport.render.html import templates_dir

log = logging.getLogger(__name__)


def package_file(url: str, root: Path) -> Path | None:
    """Return the file a `file:` URL names when it lies inside *root*, else None.

    The path is decoded the way urllib decodes it (so `%2e%2e` is `..`) before it is resolved
    and compared, and the file returned is the one that was checked.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = Path(url2pathname(parts.path)).resolve()
    if path.is_relative_to(root) and path.is_file():
        return path
    return None


def _fetcher_class():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnlyFetcher(URLFetcher):
        """A URL fetcher that records and refuses every URL it will not serve."""

        def __init__(self):
            super().__init__(allowed_protocols=("data",), allow_redirects=False)
            self.refused: list[str] = []
            self.root = templates_dir().resolve()

        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = package_file(url, self.root)
            if path is not None:
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), path.read_bytes(),
                                          {"Content-Type": kind})
            self.refused.append(url)
            log.warning("rejected a fetch of %r while rendering the PDF: only inline data and "
                        "package files are served", url[:200])
            raise ValueError("fetch rejected while rendering: only inline data and package "
                             f"files are served, not {url[:200]!r}")

    return LocalOnlyFetcher


def render_pdf(html: str, target: Path) -> list[str]:
    """Write *html* as a PDF to *target*; returns the URLs that were refused."""
    import weasyprint

    fetcher = _fetcher_class()()
    try:
        document = weasyprint.HTML(string=html, base_url=templates_dir().as_uri() + "/",
                                   url_fetcher=fetcher)
        document.write_pdf(target)
    except Exception as exc:  # weasyprint raises many unrelated types for one bad document
        raise RenderError(f"could not render the PDF {target}: {exc}") from exc
    return fetcher.refused
