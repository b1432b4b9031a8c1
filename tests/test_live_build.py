"""`irreport build` and the collector against the loopback server, end to end."""

from __future__ import annotations

import html
import json
import logging
import threading
from datetime import datetime, timedelta

from live_helpers import last_day, open_live, server, write_config  # noqa: F401
from loopback_ms import Reply, hunting_body
from typer.testing import CliRunner

from irreport.collect import collect
from irreport.errors import AuthenticationError

KNOWN_SECRET = "Kq8~irreport-known-secret-7Hd2"
LSASS_MESSAGE = "Query execution has exceeded the allowed result size. Optimize your query"


def _hunting_by_query(request, match):
    """Reject the LSASS query as too large, throttle nothing, return no rows for the rest."""
    text = request.json["Query"]
    if "lsass" in text.lower():
        return Reply(400, {"error": {"code": "BadRequest", "message": LSASS_MESSAGE}})
    return Reply(body=hunting_body([("Timestamp", "DateTime"), ("DeviceName", "String")], []))


def _build(tmp_path, server, environ, extra_args=()):
    from irreport.cli import _register, app

    _register()
    path = write_config(tmp_path, server)
    out = tmp_path / "out"
    args = ["--config", str(path), "-v", "build", "--device", "testmachine3", "--out", str(out),
            "--format", "html", "--name", "case", *extra_args]
    return CliRunner().invoke(app, args, env=environ), out / "case"


def test_build_records_failure_in_manifest_and_dossier(tmp_path, server):
    server.handlers["hunting"] = _hunting_by_query

    outcome, folder = _build(tmp_path, server, {"AZURE_CLIENT_SECRET": server.client_secret})

    assert outcome.exit_code == 1, outcome.output
    manifest = json.loads((folder / "manifest.json").read_text())
    records = {r["id"]: r for r in manifest["queries"]}
    assert records["lsass-access"]["status"] == "failed"
    assert LSASS_MESSAGE in records["lsass-access"]["message"]
    assert records["lsass-access"]["retries"] == 0
    assert records["process-events"]["status"] == "empty"
    assert records["process-events"]["row_limit"] == 100_000
    assert manifest["source"]["kind"] == "defender"
    dossier = html.unescape((folder / "dossier.html").read_text())
    assert "lsass-access" in dossier
    assert LSASS_MESSAGE in dossier


def test_build_shows_throttling_retries(tmp_path, server):
    server.script("hunting", [Reply(429, {"error": {"code": "TooManyRequests", "message": "Please retry again later."}},
                                    headers={"Retry-After": "0.05"})])

    outcome, folder = _build(tmp_path, server, {"AZURE_CLIENT_SECRET": server.client_secret})

    manifest = json.loads((folder / "manifest.json").read_text())
    retried = [r for r in manifest["queries"] if r["retries"]]
    assert len(retried) == 1
    assert "retried after 0.05 s" in " ".join(retried[0]["warnings"])
    dossier = html.unescape((folder / "dossier.html").read_text())
    assert f"<td>{retried[0]['id']}</td>" in dossier
    assert "retried after 0.05 s" in dossier
    # Every query succeeded after the retry. The server returns no rows, so the run still exits 1
    # for the device that no query returned data for.
    assert outcome.exit_code == 1, outcome.output
    assert "no query returned any row for device 'testmachine3'" in outcome.output
    assert all(r["status"] in ("ok", "empty") for r in manifest["queries"])


def test_no_trace_of_secret_anywhere(tmp_path, server, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server.client_secret = KNOWN_SECRET
    server.handlers["hunting"] = _hunting_by_query

    outcome, folder = _build(tmp_path, server, {"AZURE_CLIENT_SECRET": KNOWN_SECRET})
    (tmp_path / "wrong").mkdir()
    wrong, _ = _build(tmp_path / "wrong", server, {"AZURE_CLIENT_SECRET": KNOWN_SECRET + "x"})

    assert server.calls("token")[0].form["client_secret"] == KNOWN_SECRET
    assert (folder / "manifest.json").exists()
    assert isinstance(wrong.exception, AuthenticationError)
    assert "AADSTS7000215" in str(wrong.exception)
    written = [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*")
               if p.is_file() and p.name != "irreport.toml"]
    captured = capfd.readouterr()
    places = {
        "log records": "\n".join(r.getMessage() for r in caplog.records),
        "log arguments": "\n".join(repr(r.args) for r in caplog.records),
        "build output": outcome.output,
        "failed build": wrong.output + repr(wrong.exception),
        "stdout and stderr": captured.out + captured.err,
        "written files": "\n".join(written),
    }
    for place, text in places.items():
        assert KNOWN_SECRET not in text, place
    assert caplog.records


def test_collect_runs_queries_concurrently(tmp_path, server, pack):
    server.latency = 0.1
    source = open_live(tmp_path, server, section="max_concurrency = 4")
    threads = []

    def progress(query, result):
        threads.append(threading.current_thread())

    collection = collect(pack, source, ["testmachine3"], last_day(), progress=progress)

    assert list(collection.results) == [q.id for q in pack.ordered()]
    assert all(r.status == "empty" for r in collection.results.values())
    assert 2 <= server.peak_in_flight <= 4
    assert set(threads) == {threading.main_thread()}
    assert len(threads) == 2 * len(pack)


def test_feeding_query_finishes_before_its_consumer(tmp_path, server, pack):
    server.latency = 0.05
    source = open_live(tmp_path, server, section="max_concurrency = 4")
    order = []

    def progress(query, result):
        order.append((query.id, result is None))

    collect(pack, source, ["testmachine3"], last_day(), progress=progress)

    for query in pack:
        for param in query.parameters:
            if param.feeds_from:
                finished = order.index((param.feeds_from[0], False))
                started = order.index((query.id, True))
                assert finished < started, (param.feeds_from[0], query.id)


def test_one_failure_does_not_stop_the_run(tmp_path, server, pack):
    server.handlers["hunting"] = _hunting_by_query
    source = open_live(tmp_path, server)
    time_range = last_day()

    collection = collect(pack, source, ["testmachine3"], time_range)

    statuses = {q: r.status for q, r in collection.results.items()}
    assert statuses["lsass-access"] == "failed"
    assert sum(1 for s in statuses.values() if s == "empty") == len(pack) - 1
    assert isinstance(collection.results["process-events"].started_at, datetime)
    assert collection.time_range.duration == timedelta(days=1)
