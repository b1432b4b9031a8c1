"""Sign-in, configuration layering, incidents and `irreport auth check` on the loopback server."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

import pytest
from live_helpers import last_day, open_live, secret_environment, server, write_config  # noqa: F401
from loopback_ms import CLIENT_ID, TENANT, Reply, hunting_body, make_certificate
from typer.testing import CliRunner

from irreport.auth import TokenProvider
from irreport.config import auth_settings, endpoints, load_config
from irreport.errors import AuthenticationError, ConfigurationError, SourceError
from irreport.incidents import MARGIN_AFTER, MARGIN_BEFORE, scope_for_incident
from irreport.sources import EMPTY, FAILED

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _provider(tmp_path, server, environ, method_line=""):
    path = write_config(tmp_path, server)
    if method_line:
        path.write_text(path.read_text().replace("[auth]\n", f"[auth]\n{method_line}\n"))
    config = load_config(path, environ=environ)
    prompts = []
    return TokenProvider(auth_settings(config), endpoints(config), prompt=prompts.append), prompts


def test_certificate_pem_signs_in(tmp_path, server):
    cert, key = make_certificate(tmp_path / "app", common_name="irreport-test-app", ip=None)
    bundle = tmp_path / "app.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    server.client_certificate = cert
    provider, _ = _provider(tmp_path, server, {"AZURE_CLIENT_CERTIFICATE_PATH": str(bundle)})

    token = provider.token(GRAPH_SCOPE)

    assert token.startswith("loopback-at-")
    form = server.calls("token")[0].form
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form


def test_certificate_pfx_signs_in(tmp_path, server):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    cert, key = make_certificate(tmp_path / "app", common_name="irreport-test-app", ip=None)
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", serialization.load_pem_private_key(key.read_bytes(), None),
        x509.load_pem_x509_certificate(cert.read_bytes()), None,
        serialization.BestAvailableEncryption(b"pfx-pass")))
    server.client_certificate = cert
    provider, _ = _provider(tmp_path, server, {"AZURE_CLIENT_CERTIFICATE_PATH": str(pfx),
                                               "AZURE_CLIENT_CERTIFICATE_PASSWORD": "pfx-pass"})

    assert provider.token(GRAPH_SCOPE).startswith("loopback-at-")


def test_certificate_of_other_app_rejected(tmp_path, server):
    registered, _ = make_certificate(tmp_path / "registered", common_name="registered", ip=None)
    cert, key = make_certificate(tmp_path / "other", common_name="other", ip=None)
    bundle = tmp_path / "other.pem"
    bundle.write_bytes(cert.read_bytes() + key.read_bytes())
    server.client_certificate = registered
    provider, _ = _provider(tmp_path, server, {"AZURE_CLIENT_CERTIFICATE_PATH": str(bundle)})

    with pytest.raises(AuthenticationError) as caught:
        provider.token(GRAPH_SCOPE)

    assert "invalid_client" in str(caught.value)
    assert "AADSTS700027" in str(caught.value)


def test_wrong_secret_error_names_no_secret(tmp_path, server):
    provider, _ = _provider(tmp_path, server, {"AZURE_CLIENT_SECRET": "wrong-secret-value-123"})

    with pytest.raises(AuthenticationError) as caught:
        provider.token(GRAPH_SCOPE)

    assert "AADSTS7000215" in str(caught.value)
    assert TENANT in str(caught.value)
    assert "wrong-secret-value-123" not in str(caught.value)


def test_device_code_prompts_and_caches(tmp_path, server):
    provider, prompts = _provider(tmp_path, server, {}, method_line='method = "device-code"')

    first = provider.token(GRAPH_SCOPE)

    assert first.startswith("loopback-at-")
    assert prompts == [f"To sign in, open {server.base_url}/devicelogin and enter LOOPBACK."]
    assert len(server.calls("devicecode")) == 1
    assert len(server.calls("token")) == 2  # one authorization_pending poll, then the token
    cache = tmp_path / "token-cache.bin"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600

    again, again_prompts = _provider(tmp_path, server, {}, method_line='method = "device-code"')
    assert again.token(GRAPH_SCOPE) == first
    assert again_prompts == []
    assert len(server.calls("devicecode")) == 1


def test_device_code_refresh_uses_refresh_token(tmp_path, server):
    provider, _ = _provider(tmp_path, server, {}, method_line='method = "device-code"')
    first = provider.token(GRAPH_SCOPE)

    renewed = provider.token(GRAPH_SCOPE, refresh=True)

    assert renewed != first
    assert server.calls("token")[-1].form["grant_type"] == "refresh_token"


def test_loose_cache_permissions_tightened(tmp_path, server):
    cache = tmp_path / "token-cache.bin"
    cache.write_text("{}")
    cache.chmod(0o644)

    provider, _ = _provider(tmp_path, server, secret_environment(server))
    provider.token(GRAPH_SCOPE)

    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_command_line_beats_environment_beats_file(tmp_path, server):
    path = write_config(tmp_path, server)
    environ = {"AZURE_TENANT_ID": "from-environment", "AZURE_CLIENT_ID": "env-client"}

    from_file = load_config(path, environ={})
    from_env = load_config(path, environ=environ)
    from_cli = load_config(path, environ=environ, overrides={"auth": {"tenant_id": "from-cli",
                                                                      "client_id": None}})

    assert from_file["auth"]["tenant_id"] == TENANT
    assert from_env["auth"]["tenant_id"] == "from-environment"
    assert from_cli["auth"]["tenant_id"] == "from-cli"
    assert from_cli["auth"]["client_id"] == "env-client"


def test_config_found_in_xdg_folder(tmp_path, server, monkeypatch):
    folder = tmp_path / "xdg" / "irreport"
    folder.mkdir(parents=True)
    write_config(folder, server)
    monkeypatch.chdir(tmp_path)

    config = load_config(environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})

    assert config["_path"] == str(folder / "irreport.toml")
    assert config["device_groups"] == {}


def test_unknown_source_kind_rejected(tmp_path):
    path = tmp_path / "irreport.toml"
    path.write_text('[source]\nkind = "splunk"\n')

    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})

    assert "'splunk'" in str(caught.value)
    assert "defender, sentinel, adx" in str(caught.value)


def test_us_government_clouds_hosts():
    gcc_high = endpoints({"auth": {"cloud": "gcc-high"}})
    dod = endpoints({"endpoints": {"cloud": "dod"}})

    assert gcc_high.authority_host == "https://login.microsoftonline.us"
    assert gcc_high.graph == "https://graph.microsoft.us"
    assert gcc_high.log_analytics_audience == "https://api.loganalytics.us"
    assert dod.graph == "https://dod-graph.microsoft.us"
    assert endpoints({"auth": {"cloud": "gcc"}}).graph == "https://graph.microsoft.com"


INCIDENT = {
    "id": "2972395", "displayName": "Multi-stage incident on testmachine3", "severity": "high",
    "status": "active",
    "alerts": [
        {"id": "da1", "title": "Suspicious PowerShell", "severity": "medium",
         "firstActivityDateTime": "2026-12-02T14:00:00.1234567Z",
         "lastActivityDateTime": "2026-12-02T15:00:00Z",
         "evidence": [
             {"@odata.type": "#microsoft.graph.security.deviceEvidence",
              "mdeDeviceId": "f1a2", "deviceDnsName": "testmachine3.contoso.local"},
             {"@odata.type": "#microsoft.graph.security.userEvidence",
              "userAccount": {"accountName": "alice"}}]},
        {"id": "da2", "title": "Credential theft", "severity": "high",
         "firstActivityDateTime": "2026-12-03T01:00:00Z",
         "lastActivityDateTime": "2026-12-03T02:30:00Z",
         "evidence": [
             {"@odata.type": "#microsoft.graph.security.deviceEvidence",
              "mdeDeviceId": "f1a2", "deviceDnsName": "testmachine3.contoso.local"},
             {"@odata.type": "#microsoft.graph.security.deviceEvidence",
              "mdeDeviceId": "b7c8", "deviceDnsName": "srv-files01.contoso.local"}]},
    ],
}


def test_incident_scope_devices_and_range(tmp_path, server):
    server.script("incident", [Reply(body=INCIDENT)])
    config = load_config(write_config(tmp_path, server), environ=secret_environment(server))

    scope = scope_for_incident(config, "2972395")

    assert scope.title == "Multi-stage incident on testmachine3"
    assert scope.severity == "high"
    assert scope.status == "active"
    assert scope.device_names == ["testmachine3.contoso.local", "srv-files01.contoso.local"]
    assert [d.mde_device_id for d in scope.devices] == ["f1a2", "b7c8"]
    assert [a.id for a in scope.alerts] == ["da1", "da2"]
    assert scope.alerts[0].first_activity == datetime(2026, 12, 2, 14, 0, 0, 123456, tzinfo=timezone.utc)
    assert scope.time_range.start == datetime(2026, 12, 2, 14, 0, 0, 123456, tzinfo=timezone.utc) - MARGIN_BEFORE
    assert scope.time_range.end == datetime(2026, 12, 3, 2, 30, tzinfo=timezone.utc) + MARGIN_AFTER
    assert MARGIN_BEFORE == timedelta(hours=24)
    assert MARGIN_AFTER == timedelta(hours=6)
    request = server.calls("incident")[0]
    assert request.path == "/v1.0/security/incidents/2972395"
    assert request.query == {"$expand": ["alerts"]}


def test_incident_forbidden_names_permission(tmp_path, server):
    server.script("incident", [Reply(403, {"error": {"code": "Forbidden", "message": "Missing application roles."}})])
    config = load_config(write_config(tmp_path, server), environ=secret_environment(server))

    with pytest.raises(SourceError) as caught:
        scope_for_incident(config, "2972395")

    assert "HTTP 403" in str(caught.value)
    assert "SecurityIncident.Read.All" in str(caught.value)


def test_incident_id_must_be_number(tmp_path, server):
    config = load_config(write_config(tmp_path, server), environ=secret_environment(server))

    with pytest.raises(ConfigurationError):
        scope_for_incident(config, "../alerts")


def _cli(args, environ):
    from irreport.cli import _register, app

    _register()
    return CliRunner().invoke(app, args, env=environ)


def _probe_handler(tables):
    def handler(request, match):
        rows = [{"TableName": t, "Rows": 3} for t in tables]
        return Reply(body=hunting_body([("TableName", "String"), ("Rows", "Int64")], rows))
    return handler


def test_auth_check_lists_visible_tables(tmp_path, server):
    server.handlers["hunting"] = _probe_handler(["DeviceProcessEvents", "DeviceEvents"])
    path = write_config(tmp_path, server)

    outcome = _cli(["--config", str(path), "auth", "check"], secret_environment(server))

    assert outcome.exit_code == 0, outcome.output
    assert "defender: ok" in outcome.output
    assert "tables with rows in the last day: DeviceEvents, DeviceProcessEvents" in outcome.output \
        or "tables with rows in the last day: DeviceProcessEvents, DeviceEvents" in outcome.output
    assert "incidents: ok" in outcome.output
    probe = server.calls("hunting")[0].json["Query"]
    assert probe.startswith("union withsource=TableName isfuzzy=true ")


def test_auth_check_names_missing_permission(tmp_path, server):
    server.script("hunting", [Reply(403, {"error": {"code": "Forbidden",
                                                    "message": "Missing application roles. API required roles: ThreatHunting.Read.All."}})])
    path = write_config(tmp_path, server)

    outcome = _cli(["--config", str(path), "auth", "check"], secret_environment(server))

    assert outcome.exit_code == 1
    assert "defender: FAILED" in outcome.output
    assert "HTTP 403" in outcome.output
    assert "missing permission: the app needs the Microsoft Graph permission ThreatHunting.Read.All" in outcome.output


def test_auth_check_sentinel_lists_tvm_as_not_sent(tmp_path, server):
    path = write_config(tmp_path, server, kind="sentinel")
    text = path.read_text().replace("[defender]\n", "").replace("[adx]\n", "[unused_adx]\n")
    path.write_text(text)

    outcome = _cli(["--config", str(path), "auth", "check"], secret_environment(server))

    assert "sentinel: ok" in outcome.output
    assert "DeviceTvmSecureConfigurationAssessment: not available here" in outcome.output
    assert outcome.exit_code == 0, outcome.output


def test_live_run_records_failure(tmp_path, server):
    server.script("hunting", [Reply(400, {"error": {"code": "BadRequest", "message": "Syntax error"}})])
    source = open_live(tmp_path, server)

    failed = source.run("q", "DeviceEvents |", last_day())
    after = source.run("q2", "DeviceEvents | take 1", last_day())

    assert failed.status == FAILED
    assert after.status == EMPTY


def test_example_configuration_loads():
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "docs" / "irreport.example.toml"

    config = load_config(example, environ={})

    assert config["source"]["kind"] == "defender"
    assert endpoints(config).graph == "https://graph.microsoft.com"
    assert auth_settings(config).method == "device-code"
    assert config["device_groups"] == {}
