"""The configuration: `irreport.toml`, the Azure environment variables and command-line values.

Values are layered so that the command line wins over the environment, which wins over the
file. The loaded configuration is a plain dict of TOML tables (`source`, `auth`, `endpoints`,
`http`, `defender`, `sentinel`, `adx`, `device_groups`), so later features can read tables this
module does not know about. The typed views below cover what the live sources need.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irreport.errors import ConfigurationError

CONFIG_NAME = "irreport.toml"
SOURCE_KINDS = ("defender", "sentinel", "adx")
AUTH_METHODS = ("secret", "certificate", "device-code")

# The variables azure-identity's EnvironmentCredential reads, mapped to `[auth]` keys.
ENVIRONMENT_KEYS = {
    "AZURE_TENANT_ID": "tenant_id",
    "AZURE_CLIENT_ID": "client_id",
    "AZURE_CLIENT_SECRET": "client_secret",
    "AZURE_CLIENT_CERTIFICATE_PATH": "certificate_path",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD": "certificate_password",
}


@dataclass(frozen=True)
class Cloud:
    """The hosts of one Microsoft cloud; audiences stay fixed when a URL is overridden."""

    authority_host: str
    graph: str
    graph_audience: str
    log_analytics: str
    log_analytics_audience: str


_COMMERCIAL = Cloud(
    authority_host="https://login.microsoftonline.com",
    graph="https://graph.microsoft.com",
    graph_audience="https://graph.microsoft.com",
    log_analytics="https://api.loganalytics.azure.com",
    log_analytics_audience="https://api.loganalytics.io",
)
_US_GOVERNMENT = dict(
    authority_host="https://login.microsoftonline.us",
    log_analytics="https://api.loganalytics.us",
    log_analytics_audience="https://api.loganalytics.us",
)
CLOUDS = {
    "commercial": _COMMERCIAL,
    # GCC (moderate) signs in and queries Graph and Log Analytics on the commercial hosts.
    "gcc": _COMMERCIAL,
    "gcc-high": Cloud(graph="https://graph.microsoft.us", graph_audience="https://graph.microsoft.us",
                      **_US_GOVERNMENT),
    "dod": Cloud(graph="https://dod-graph.microsoft.us",
                 graph_audience="https://dod-graph.microsoft.us", **_US_GOVERNMENT),
}


@dataclass(frozen=True)
class AuthSettings:
    """How to sign in; `describe()` is the only form that may be logged or recorded."""

    tenant_id: str
    client_id: str
    method: str
    client_secret: str | None = None
    certificate_path: Path | None = None
    certificate_password: str | None = None
    send_certificate_chain: bool = False
    token_cache: Path | None = None

    def describe(self) -> dict[str, Any]:
        described = {"tenant_id": self.tenant_id, "client_id": self.client_id,
                     "method": self.method}
        if self.certificate_path:
            described["certificate_path"] = str(self.certificate_path)
        return described


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the services, after cloud defaults and overrides."""

    cloud: str
    authority_host: str
    graph: str
    graph_audience: str
    log_analytics: str
    log_analytics_audience: str
    ca_bundle: Path | None = None


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, retry bounds and backoff shared by every live source; times in seconds."""

    timeout_seconds: float = 200.0
    max_retries: int = 3
    max_throttle_retries: int = 8
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0


def candidate_paths(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Return where a configuration file is looked for when --config is not given, in order."""
    environ = os.environ if environ is None else environ
    paths = [Path.cwd() / CONFIG_NAME]
    if environ.get("XDG_CONFIG_HOME"):
        paths.append(Path(environ["XDG_CONFIG_HOME"]) / "irreport" / CONFIG_NAME)
    paths.append(Path.home() / ".config" / "irreport" / CONFIG_NAME)
    return paths


def find_config(explicit: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigurationError(f"configuration file {explicit} does not exist; "
                                     "pass the path of an irreport.toml to --config")
        return explicit
    return next((p for p in candidate_paths(environ) if p.is_file()), None)


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"configuration file {path} is not valid TOML: {exc}") from None


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Load the configuration file, then apply the environment, then *overrides*.

    *overrides* contains command-line values by table, such as {"auth": {"tenant_id": ...}};
    None values are ignored. Returns an empty configuration when there is no file and no
    setting, which the CLI takes to mean the bundled sample.
    """
    environ = os.environ if environ is None else environ
    found = find_config(path, environ)
    config: dict[str, Any] = read_file(found) if found else {}
    auth = dict(config.get("auth") or {})
    for variable, key in ENVIRONMENT_KEYS.items():
        if environ.get(variable):
            auth[key] = environ[variable]
    if auth:
        config["auth"] = auth
    for table, values in (overrides or {}).items():
        merged = dict(config.get(table) or {})
        merged.update({k: v for k, v in values.items() if v is not None})
        if merged:
            config[table] = merged
    config.setdefault("device_groups", {})
    if found:
        config["_path"] = str(found)
    _check_source(config)
    return config


def _check_source(config: dict[str, Any]) -> None:
    source = config.get("source")
    if source is None:
        # Sign-in settings without a source mean the tenant's Defender XDR: a responder who
        # exported AZURE_TENANT_ID expects the tenant, never the bundled sample.
        if config.get("auth"):
            config["source"] = {"kind": "defender"}
        return
    kind = source.get("kind") if isinstance(source, dict) else None
    if kind not in SOURCE_KINDS:
        raise ConfigurationError(
            f"[source] kind {kind!r} is not a known source; expected one of "
            f"{', '.join(SOURCE_KINDS)}"
        )


def table(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"[{name}] in the configuration must be a table, got {value!r}")
    return value


def auth_settings(config: Mapping[str, Any]) -> AuthSettings:
    """Return the sign-in settings, choosing the method from what is configured."""
    auth = table(config, "auth")
    missing = [key for key in ("tenant_id", "client_id") if not auth.get(key)]
    if missing:
        raise ConfigurationError(
            f"sign-in setting missing: {' and '.join(missing)}; set "
            f"{' and '.join(missing)} under [auth] in irreport.toml, or set AZURE_TENANT_ID and "
            "AZURE_CLIENT_ID"
        )
    method = auth.get("method") or _infer_method(auth)
    if method not in AUTH_METHODS:
        raise ConfigurationError(f"[auth] method {method!r} is not known; expected one of "
                                 f"{', '.join(AUTH_METHODS)}")
    if method == "secret" and not auth.get("client_secret"):
        raise ConfigurationError("[auth] method 'secret' needs a client secret; set "
                                 "AZURE_CLIENT_SECRET rather than writing it in the file")
    if method == "certificate" and not auth.get("certificate_path"):
        raise ConfigurationError("[auth] method 'certificate' needs certificate_path or "
                                 "AZURE_CLIENT_CERTIFICATE_PATH (a PEM or PFX file)")
    return AuthSettings(
        tenant_id=str(auth["tenant_id"]),
        client_id=str(auth["client_id"]),
        method=method,
        client_secret=auth.get("client_secret"),
        certificate_path=_path(auth.get("certificate_path")),
        certificate_password=auth.get("certificate_password"),
        send_certificate_chain=bool(auth.get("send_certificate_chain", False)),
        token_cache=_token_cache_path(auth.get("token_cache")),
    )


def _infer_method(auth: Mapping[str, Any]) -> str:
    if auth.get("certificate_path"):
        return "certificate"
    if auth.get("client_secret"):
        return "secret"
    return "device-code"


def _path(value: Any) -> Path | None:
    return Path(str(value)).expanduser() if value else None


def _token_cache_path(value: Any) -> Path | None:
    """Return the token cache file; the value "none" keeps tokens in memory only."""
    if isinstance(value, str) and value.lower() == "none":
        return None
    if value:
        return Path(str(value)).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "irreport" / "msal-token-cache.bin"


def endpoints(config: Mapping[str, Any]) -> Endpoints:
    """Return the service URLs of the configured cloud with any `[endpoints]` override applied."""
    overrides = table(config, "endpoints")
    cloud_name = str(overrides.get("cloud") or table(config, "auth").get("cloud") or "commercial")
    cloud = CLOUDS.get(cloud_name.lower())
    if cloud is None:
        raise ConfigurationError(f"cloud {cloud_name!r} is not known; expected one of "
                                 f"{', '.join(CLOUDS)}")
    values = {name: str(overrides.get(name) or getattr(cloud, name)).rstrip("/")
              for name in ("authority_host", "graph", "graph_audience", "log_analytics",
                           "log_analytics_audience")}
    return Endpoints(cloud=cloud_name.lower(), ca_bundle=_path(overrides.get("ca_bundle")),
                     **values)


def http_settings(config: Mapping[str, Any]) -> HttpSettings:
    values = table(config, "http")
    known = HttpSettings.__dataclass_fields__
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigurationError(f"[http] has unknown keys {unknown}; expected some of "
                                 f"{', '.join(known)}")
    try:
        return HttpSettings(**{k: type(getattr(HttpSettings, k))(v) for k, v in values.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"[http] has an invalid value: {exc}") from None

