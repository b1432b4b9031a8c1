"""Headless Chromium for the HTML checks, and a loopback listener that records every request.

Chromium runs with background networking, sync and component updates off, so the only
connections a page can cause are those its own markup asks for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium() -> str:
    """Return the Chromium binary; fail in CI, which installs it, and skip elsewhere."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is missing; .ci/run installs it with apt-get")
    pytest.skip("chromium is not installed")


def run_chromium(profile: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile folder; returns the finished process."""
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def dump_dom(profile: Path, page: Path) -> str:
    """Return the DOM of *page* after Chromium loaded it and ran whatever it allowed."""
    done = run_chromium(profile, "--dump-dom", page.resolve().as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Listener:
    """An HTTP server on 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server dispatches to
                listener.requests.append(f"GET {self.path}")
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                # Counted before any HTTP is parsed, so a bare connection is seen too.
                listener.requests.append(f"connection from {client_address[0]}")
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
