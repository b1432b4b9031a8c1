"""`irreport build --incident ID` against the loopback server: devices and range from Graph."""

from __future__ import annotations

import html
import json

from live_helpers import server, write_config  # noqa: F401
from loopback_ms import Reply, hunting_body
from typer.testing import CliRunner

INCIDENT = {
    "id": "2972395",
    "displayName": "Multi-stage incident involving Initial access on one endpoint",
    "severity": "high",
    "status": "active",
    "alerts": [
        {"id": "da1", "title": "Suspicious RDP logon", "severity": "high",
         "firstActivityDateTime": "2026-12-02T14:37:12Z",
         "lastActivityDateTime": "2026-12-02T14:37:12Z",
         "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence",
                       "mdeDeviceId": "a1b2", "deviceDnsName": "testmachine3.contoso.test"}]},
        {"id": "da2", "title": "Lateral movement to srv-files01", "severity": "medium",
         "firstActivityDateTime": "2026-12-02T14:58:30Z",
         "lastActivityDateTime": "2026-12-02T15:02:00Z",
         "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence",
                       "mdeDeviceId": "c3d4", "deviceDnsName": "srv-files01.contoso.test"},
                      {"@odata.type": "#microsoft.graph.security.userEvidence"}]},
    ],
}


def _empty_hunting(request, match):
    return Reply(body=hunting_body([("Timestamp", "DateTime"), ("DeviceName", "String")], []))


def test_build_takes_devices_and_range_from_incident(tmp_path, server):
    from irreport.cli import _register, app

    server.handlers["incident"] = lambda request, match: (
        Reply(body=INCIDENT) if match["id"] == "2972395" else Reply(404, {}))
    server.handlers["hunting"] = _empty_hunting
    _register()
    config = write_config(tmp_path, server)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "--config", str(config), "build", "--incident", "2972395", "--out", str(out),
        "--name", "case", "--format", "html"], env={"AZURE_CLIENT_SECRET": server.client_secret})
    # The loopback server returns no rows, so both devices are reported as unseen.
    assert result.exit_code == 1, result.output
    assert "no query returned any row for device 'srv-files01.contoso.test'" in result.output
    manifest = json.loads((out / "case" / "manifest.json").read_text())
    assert manifest["devices"] == ["testmachine3.contoso.test", "srv-files01.contoso.test"]
    assert manifest["time_range"] == {"start": "2026-12-01T14:37:12.000Z",
                                      "end": "2026-12-02T21:02:00.000Z"}
    hunting = [r for r in server.requests if r.route == "hunting"]
    assert hunting, "no hunting query reached the server"
    assert all("srv-files01.contoso.test" in r.json["Query"] for r in hunting
               if "let Devices" in r.json["Query"])
    cover = html.unescape((out / "case" / "dossier.html").read_text())
    assert INCIDENT["displayName"] in cover
    assert "Lateral movement to srv-files01 (medium)" in cover


def test_build_rejects_non_numeric_incident(tmp_path, server):
    from irreport.cli import _register, app

    _register()
    config = write_config(tmp_path, server)
    result = CliRunner().invoke(app, ["--config", str(config), "build", "--incident", "12; x"],
                                env={"AZURE_CLIENT_SECRET": server.client_secret})
    assert result.exit_code != 0
    assert "incident id '12; x' is invalid" in str(result.exception)
