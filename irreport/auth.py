"""Sign-in to Microsoft Entra ID with msal: client secret, certificate or device code.

Tokens are cached on disk so a responder signs in once per day, not once per run. The cache is
encrypted by msal-extensions where it is installed and the platform offers a keystore.
Otherwise it is a plain file that only its owner can read (mode 0600).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable
from hashlib import sha1
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msal

from irreport.config import AuthSettings, Endpoints
from irreport.errors import AuthenticationError, ConfigurationError

log = logging.getLogger(__name__)

# Hosts msal validates itself. Any other authority host (a loopback server in the tests, a
# sovereign host added later) is trusted as configured, without instance discovery.
KNOWN_AUTHORITY_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us",
                         "login.chinacloudapi.cn")

Prompt = Callable[[str], None]
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


class TokenProvider:
    """Acquires and caches access tokens for one app registration and tenant."""

    def __init__(self, settings: AuthSettings, endpoints: Endpoints,
                 prompt: Prompt | None = None):
        self.settings = settings
        self.endpoints = endpoints
        self.prompt = prompt or _log_prompt
        self._lock = threading.Lock()
        self._cache = open_token_cache(settings.token_cache)
        self._app = None

    def token(self, scope: str, refresh: bool = False) -> str:
        """Return an access token for *scope*; *refresh* drops the cached one first (after a 401)."""
        with self._lock:
            app = self._application()
            if self.settings.method == "device-code":
                result = self._user_token(app, scope, refresh)
            else:
                if refresh:
                    _forget_access_tokens(app.token_cache, scope)
                result = app.acquire_token_for_client(scopes=[scope])
            self._save_cache()
        if not result or "access_token" not in result:
            raise _sign_in_error(result or {}, scope, self.settings)
        log.debug("token for %s from %s", scope, result.get("token_source", "the identity platform"))
        return result["access_token"]

    def _application(self):
        if self._app is None:
            self._app = build_application(self.settings, self.endpoints, self._cache)
        return self._app

    def _user_token(self, app, scope: str, refresh: bool) -> dict[str, Any] | None:
        accounts = app.get_accounts()
        if accounts:
            result = app.acquire_token_silent([scope], account=accounts[0], force_refresh=refresh)
            if result and "access_token" in result:
                return result
        flow = app.initiate_device_flow(scopes=[scope])
        if "user_code" not in flow:
            raise _sign_in_error(flow, scope, self.settings)
        self.prompt(flow["message"])
        return app.acquire_token_by_device_flow(flow)

    def _save_cache(self) -> None:
        save = getattr(self._cache, "save", None)
        if save:
            save()


def build_application(settings: AuthSettings, endpoints: Endpoints, cache):
    """Create the msal application for *settings*, pointed at the configured authority host."""
    authority = f"{endpoints.authority_host}/{settings.tenant_id}"
    common: dict[str, Any] = {"authority": authority, "token_cache": cache}
    if urlparse(endpoints.authority_host).hostname not in KNOWN_AUTHORITY_HOSTS:
        # msal 1.39 otherwise queries login.microsoftonline.com to validate the host. A
        # configured host is trusted, and only its own OpenID configuration is read.
        common["instance_discovery"] = False
        common["validate_authority"] = False
    if endpoints.ca_bundle:
        common["http_client"] = _session_trusting(endpoints.ca_bundle)
    try:
        if settings.method == "device-code":
            return msal.PublicClientApplication(settings.client_id, **common)
        return msal.ConfidentialClientApplication(
            settings.client_id, client_credential=client_credential(settings), **common)
    except ValueError as exc:
        # msal raises ValueError for an unusable authority and for a malformed certificate.
        raise AuthenticationError(
            f"could not set up sign-in for tenant {settings.tenant_id} at {authority}: {exc}",
            source="entra-id") from None


def _session_trusting(ca_bundle: Path):
    """Return a requests session that verifies TLS against *ca_bundle*.

    msal's own `verify` setting lands on the session, where REQUESTS_CA_BUNDLE overrides it;
    passed with each request, the configured bundle wins over the environment.
    """
    import requests

    session = requests.Session()
    session.request = functools.partial(session.request, verify=str(ca_bundle), timeout=60)
    return session


def client_credential(settings: AuthSettings) -> str | dict[str, Any]:
    """Return msal's client_credential for a secret, a PEM certificate or a PFX file."""
    if settings.method == "secret":
        return settings.client_secret or ""
    path = settings.certificate_path
    if path is None or not path.is_file():
        raise ConfigurationError(f"certificate {path} does not exist; set certificate_path to a "
                                 "PEM or PFX file holding the app's certificate and private key")
    if path.suffix.lower() in (".pfx", ".p12"):
        credential: dict[str, Any] = {"private_key_pfx_path": str(path)}
        if settings.send_certificate_chain:
            credential["public_certificate"] = True
    else:
        credential = pem_credential(path.read_bytes(), settings.send_certificate_chain)
    if settings.certificate_password:
        credential["passphrase"] = settings.certificate_password
    return credential


def pem_credential(pem: bytes, send_chain: bool) -> dict[str, Any]:
    """Split a PEM file holding a certificate and its private key into msal's fields."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    text = pem.decode("ascii", errors="replace")
    key = _PEM_PRIVATE_KEY.search(text)
    if key is None or "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigurationError(
            "the PEM certificate file must hold both the certificate and its private key; "
            "concatenate them into one file")
    certificate = x509.load_pem_x509_certificate(pem)
    credential = {
        "private_key": key.group(0),
        # Entra ID identifies the certificate by its SHA-1 thumbprint (x5t).
        "thumbprint": sha1(certificate.public_bytes(Encoding.DER)).hexdigest(),
    }
    if send_chain:
        credential["public_certificate"] = certificate.public_bytes(Encoding.PEM).decode()
    return credential


def _forget_access_tokens(cache, scope: str) -> None:
    for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN, target=[scope])):
        cache.remove_at(item)


def _sign_in_error(result: dict[str, Any], scope: str, settings: AuthSettings) -> AuthenticationError:
    code = result.get("error", "no token returned")
    description = (result.get("error_description") or "").split("\r\n")[0]
    return AuthenticationError(
        f"sign-in as app {settings.client_id} in tenant {settings.tenant_id} ({settings.method}) "
        f"for {scope} failed: {code}: {description}; check the tenant id, the client id and "
        "the credential, and that the app is registered in this cloud",
        source="entra-id",
    )


def _log_prompt(message: str) -> None:
    log.warning("%s", message)


class FileTokenCache(msal.SerializableTokenCache):
    """An msal token cache kept in a file that only its owner can read and write."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        if path.is_file():
            tighten_permissions(path)
            self.deserialize(path.read_text(encoding="utf-8"))

    def save(self) -> None:
        if self.has_state_changed:
            write_private(self.path, self.serialize())
            self.has_state_changed = False


def open_token_cache(path: Path | None):
    """Return a persistent token cache at *path*, encrypted where msal-extensions can."""
    if path is None:
        return msal.TokenCache()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encrypted = _encrypted_cache(path)
    return encrypted if encrypted is not None else FileTokenCache(path)


def _encrypted_cache(path: Path):
    try:
        from msal_extensions import PersistedTokenCache, build_encrypted_persistence
    except ImportError:
        return None
    try:
        persistence = build_encrypted_persistence(str(path.with_suffix(".encrypted")))
    except Exception as exc:  # Linux without PyGObject and libsecret lands here, among others
        log.debug("no encrypted token cache on this platform (%s); using a 0600 file", exc)
        return None
    return PersistedTokenCache(persistence)


def write_private(path: Path, text: str) -> None:
    """Write *text* to *path* so that only the owner can read it, replacing the file atomically."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def tighten_permissions(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("token cache %s was readable by others (mode %o); setting it to 0600",
                    path, mode)
        os.chmod(path, 0o600)
