"""Configuration files and time ranges for the tests that talk to the loopback server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from loopback_ms import CLIENT_ID, TENANT, WORKSPACE, LoopbackMicrosoft

from irreport.config import load_config
from irreport.sources import open_source
from irreport.timerange import TimeRange

# Small enough that a retried test stays well under a second.
SHORT_TIMEOUT_HTTP = """
[http]
timeout_seconds = 0.2
max_retries = 2
backoff_base_seconds = 0.01
backoff_cap_seconds = 0.02
"""

FAST_HTTP = """
[http]
timeout_seconds = 2.0
max_retries = 2
max_throttle_retries = 3
backoff_base_seconds = 0.01
backoff_cap_seconds = 0.04
"""


def write_config(folder: Path, server: LoopbackMicrosoft, kind: str = "defender",
                 section: str = "", http: str = FAST_HTTP) -> Path:
    """Write an irreport.toml whose every host is the loopback server.

    *section* contains lines added to the table of *kind*, such as "row_limit = 10".
    """
    path = folder / "irreport.toml"
    lines = {name: section if name == kind else "" for name in ("defender", "sentinel", "adx")}
    path.write_text(f"""
[source]
kind = "{kind}"

[auth]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
token_cache = "{folder / 'token-cache.bin'}"

[endpoints]
authority_host = "{server.base_url}"
graph = "{server.base_url}"
log_analytics = "{server.base_url}"
ca_bundle = "{server.cert_path}"

[defender]
{lines["defender"]}

[sentinel]
workspace_id = "{WORKSPACE}"
{lines["sentinel"]}

[adx]
cluster_url = "{server.base_url}"
database = "archive"
{lines["adx"]}
{http}
""", encoding="utf-8")
    return path


def secret_environment(server: LoopbackMicrosoft) -> dict[str, str]:
    return {"AZURE_CLIENT_SECRET": server.client_secret}


def open_live(folder: Path, server: LoopbackMicrosoft, kind: str = "defender", section: str = "",
              environ: dict[str, str] | None = None, http: str = FAST_HTTP):
    path = write_config(folder, server, kind, section, http)
    config = load_config(path, environ=secret_environment(server) if environ is None else environ)
    return open_source(None, config)


def last_day() -> TimeRange:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return TimeRange(now - timedelta(days=1), now)


@pytest.fixture
def server(tmp_path):
    """A running loopback server, stopped after the test."""
    loopback = LoopbackMicrosoft(tmp_path / "server").start()
    yield loopback
    loopback.stop()
