"""A loopback HTTPS server that speaks the Microsoft wire formats irreport's live sources use.

It serves, on 127.0.0.1 and a free port, the Entra ID v2 endpoints msal calls (OpenID
configuration, instance discovery, token with a client secret or a client assertion, device
code and its polling), Microsoft Graph hunting and incidents, the Log Analytics query API and
the Azure Data Explorer v2 query API. The real msal and httpx code talk to it over TLS with a
throwaway certificate; only the host differs from production.

Each test scripts the replies of a route with `script(route, replies)`; a route whose queue is
empty falls back to its default handler, which a test may replace in `handlers`.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import secrets
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

TENANT = "00000000-0000-4000-8000-00000000aaaa"
CLIENT_ID = "11111111-1111-4111-8111-111111111111"
WORKSPACE = "22222222-2222-4222-8222-222222222222"

ROUTES = [
    ("instance", "GET", re.compile(r"^/common/discovery/instance$")),
    ("openid", "GET", re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")),
    ("token", "POST", re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")),
    ("devicecode", "POST", re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/devicecode$")),
    ("hunting", "POST", re.compile(r"^/v1\.0/security/runHuntingQuery$")),
    ("incidents", "GET", re.compile(r"^/v1\.0/security/incidents$")),
    ("incident", "GET", re.compile(r"^/v1\.0/security/incidents/(?P<id>[^/]+)$")),
    ("loganalytics", "POST", re.compile(r"^/v1/workspaces/(?P<workspace>[^/]+)/query$")),
    ("adx", "POST", re.compile(r"^/v2/rest/query$")),
]
SERVICE_ROUTES = ("hunting", "incidents", "incident", "loganalytics", "adx")


@dataclass
class Reply:
    """One scripted HTTP reply; `delay` holds the reply back, to provoke client timeouts."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None


@dataclass
class Recorded:
    route: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class TokenBucket:
    """A call quota: *calls* per *window* seconds, refilled continuously."""

    def __init__(self, calls: int, window: float):
        self.capacity = calls
        self.rate = calls / window
        self.tokens = float(calls)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """Take one call; return 0 when allowed, else the seconds until one is free."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


def make_certificate(folder: Path, common_name: str = "127.0.0.1",
                     ip: str | None = "127.0.0.1") -> tuple[Path, Path]:
    """Write a self-signed certificate and its key as PEM files; return (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    certificate = builder.sign(key, hashes.SHA256())
    folder.mkdir(parents=True, exist_ok=True)
    cert_path = folder / f"{common_name}.crt"
    key_path = folder / f"{common_name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class LoopbackMicrosoft:
    """The server, its scripted replies and everything it received."""

    def __init__(self, folder: Path, client_secret: str = "loopback-secret",
                 client_certificate: Path | None = None):
        self.cert_path, key_path = make_certificate(folder / "tls")
        self.client_secret = client_secret
        self.client_certificate = client_certificate
        self.queues: dict[str, deque[Reply]] = defaultdict(deque)
        self.handlers: dict[str, Callable[[Recorded, dict[str, str]], Reply]] = {
            "instance": self._instance, "openid": self._openid, "token": self._token,
            "devicecode": self._devicecode, "hunting": self._hunting,
            "incidents": lambda request, match: Reply(body={"value": []}),
            "incident": lambda request, match: Reply(404, _error("NotFound", "no incident")),
            "loganalytics": self._loganalytics, "adx": self._adx,
        }
        self.requests: list[Recorded] = []
        self.issued: set[str] = set()
        self.pending_polls = 1
        self.quota: TokenBucket | None = None
        self.latency = 0.0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> "LoopbackMicrosoft":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, route: str, replies: list[Reply]) -> None:
        self.queues[route].extend(replies)

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid, as an expired token is."""
        with self.lock:
            self.issued.clear()

    def calls(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    # Dispatch ------------------------------------------------------------------------------

    def dispatch(self, request: Recorded) -> Reply:
        for name, method, pattern in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.route = name
                with self.lock:
                    self.requests.append(request)
                return self._reply(name, request, match.groupdict())
        return Reply(404, _error("NotFound", f"no route for {request.method} {request.path}"))

    def _reply(self, route: str, request: Recorded, match: dict[str, str]) -> Reply:
        if route not in SERVICE_ROUTES:
            return self._next_reply(route, request, match)
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._service_reply(route, request, match)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _service_reply(self, route: str, request: Recorded, match: dict[str, str]) -> Reply:
        denied = self._check_bearer(request)
        if denied:
            return denied
        if self.quota is not None:
            wait = self.quota.take()
            if wait:
                return Reply(429, _error("TooManyRequests", "Please retry again later."),
                             headers={"Retry-After": f"{wait:.3f}"})
        if self.latency:
            time.sleep(self.latency)
        return self._next_reply(route, request, match)

    def _next_reply(self, route: str, request: Recorded, match: dict[str, str]) -> Reply:
        with self.lock:
            queued = self.queues[route].popleft() if self.queues[route] else None
        return queued or self.handlers[route](request, match)

    def _check_bearer(self, request: Recorded) -> Reply | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self.lock:
            valid = token in self.issued
        if valid:
            return None
        return Reply(401, _error("InvalidAuthenticationToken", "Access token has expired or is "
                                 "not yet valid."))

    # Entra ID --------------------------------------------------------------------------------

    def _issuer(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/v2.0"

    def _instance(self, request: Recorded, match: dict[str, str]) -> Reply:
        return Reply(body={
            "tenant_discovery_endpoint":
                f"{self.base_url}/{TENANT}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": "127.0.0.1", "preferred_cache": "127.0.0.1",
                          "aliases": ["127.0.0.1"]}],
        })

    def _openid(self, request: Recorded, match: dict[str, str]) -> Reply:
        tenant = match["tenant"]
        base = f"{self.base_url}/{tenant}/oauth2/v2.0"
        return Reply(body={
            "issuer": self._issuer(tenant),
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "device_authorization_endpoint": f"{base}/devicecode",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        })

    def _devicecode(self, request: Recorded, match: dict[str, str]) -> Reply:
        self.pending_polls = 1
        return Reply(body={
            "device_code": "loopback-device-code", "user_code": "LOOPBACK",
            "verification_uri": f"{self.base_url}/devicelogin", "expires_in": 60, "interval": 0,
            "message": f"To sign in, open {self.base_url}/devicelogin and enter LOOPBACK.",
        })

    def _token(self, request: Recorded, match: dict[str, str]) -> Reply:
        form = request.form
        grant = form.get("grant_type", "")
        if form.get("client_id") != CLIENT_ID:
            return Reply(400, {"error": "unauthorized_client",
                               "error_description": "AADSTS700016: Application not found."})
        if grant == "client_credentials":
            problem = self._client_problem(form, match["tenant"])
            if problem:
                return Reply(401, {"error": "invalid_client", "error_description": problem})
            return Reply(body=self._token_body())
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if self.pending_polls > 0:
                self.pending_polls -= 1
                return Reply(400, {"error": "authorization_pending",
                                   "error_description": "AADSTS70016: pending"})
            return Reply(body=self._token_body(user=True, tenant=match["tenant"]))
        if grant == "refresh_token":
            return Reply(body=self._token_body(user=True, tenant=match["tenant"]))
        return Reply(400, {"error": "unsupported_grant_type", "error_description": grant})

    def _client_problem(self, form: dict[str, str], tenant: str) -> str:
        if "client_secret" in form:
            if form["client_secret"] == self.client_secret:
                return ""
            return "AADSTS7000215: Invalid client secret provided."
        assertion = form.get("client_assertion")
        if not assertion or self.client_certificate is None:
            return "AADSTS7000216: client_assertion or client_secret is required."
        return verify_assertion(assertion, self.client_certificate,
                                f"{self.base_url}/{tenant}/oauth2/v2.0/token")

    def _token_body(self, user: bool = False, tenant: str = TENANT) -> dict[str, Any]:
        token = "loopback-at-" + secrets.token_hex(8)
        with self.lock:
            self.issued.add(token)
        body = {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                "access_token": token}
        if user:
            now = int(time.time())
            claims = {"iss": self._issuer(tenant), "aud": CLIENT_ID, "sub": "responder",
                      "oid": "33333333-3333-4333-8333-333333333333", "tid": tenant,
                      "preferred_username": "responder@example.invalid", "iat": now,
                      "nbf": now, "exp": now + 3600}
            body.update({
                "refresh_token": "loopback-rt-" + secrets.token_hex(8),
                "id_token": _unsigned_jwt(claims),
                "client_info": _b64(json.dumps({"uid": claims["oid"], "utid": tenant})),
                "scope": "https://graph.microsoft.com/.default",
            })
        return body

    # Services --------------------------------------------------------------------------------

    def _hunting(self, request: Recorded, match: dict[str, str]) -> Reply:
        return Reply(body=hunting_body([("Timestamp", "DateTime"), ("DeviceName", "String")], []))

    def _loganalytics(self, request: Recorded, match: dict[str, str]) -> Reply:
        return Reply(body=log_analytics_body([("TimeGenerated", "datetime")], []))

    def _adx(self, request: Recorded, match: dict[str, str]) -> Reply:
        return Reply(body=adx_frames([("Timestamp", "datetime")], []))


def hunting_body(schema: list[tuple[str, str]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
                          "microsoft.graph.security.huntingQueryResults",
        "schema": [{"name": name, "type": kind} for name, kind in schema],
        "results": rows,
    }


def log_analytics_body(columns: list[tuple[str, str]], rows: list[list[Any]],
                       error: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"tables": [{
        "name": "PrimaryResult",
        "columns": [{"name": name, "type": kind} for name, kind in columns],
        "rows": rows,
    }]}
    if error:
        body["error"] = error
    return body


def adx_frames(columns: list[tuple[str, str]], rows: list[list[Any]],
               completion_rows: list[list[Any]] | None = None,
               errors: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    completion_columns = [("Timestamp", "datetime"), ("ClientRequestId", "string"),
                          ("ActivityId", "guid"), ("SubActivityId", "guid"),
                          ("ParentActivityId", "guid"), ("Level", "int"), ("LevelName", "string"),
                          ("StatusCode", "int"), ("StatusCodeName", "string"),
                          ("EventType", "int"), ("EventTypeName", "string"), ("Payload", "string")]
    return [
        {"FrameType": "DataSetHeader", "IsProgressive": False, "Version": "v2.0"},
        {"FrameType": "DataTable", "TableId": 0, "TableKind": "PrimaryResult",
         "TableName": "PrimaryResult",
         "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in columns], "Rows": rows},
        {"FrameType": "DataTable", "TableId": 1, "TableKind": "QueryCompletionInformation",
         "TableName": "QueryCompletionInformation",
         "Columns": [{"ColumnName": n, "ColumnType": t} for n, t in completion_columns],
         "Rows": completion_rows or []},
        {"FrameType": "DataSetCompletion", "HasErrors": bool(errors), "Cancelled": False,
         **({"OneApiErrors": errors} if errors else {})},
    ]


def verify_assertion(assertion: str, certificate_path: Path, audience: str) -> str:
    """Check a client assertion JWT against the registered certificate; return a problem or ''."""
    import jwt
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    try:
        jwt.decode(assertion, certificate.public_key(), algorithms=["RS256", "PS256"],
                   audience=audience)
    except jwt.PyJWTError as exc:
        return f"AADSTS700027: client assertion failed signature validation ({exc})."
    return ""


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": "2026-01-01T00:00:00", "request-id": "loopback"}}}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}))}.{_b64(json.dumps(claims))}."


def _handler_class(server: LoopbackMicrosoft):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep pytest output clean
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parsed = urlparse(self.path)
            request = Recorded(route="", method=self.command, path=parsed.path,
                               query=parse_qs(parsed.query),
                               headers={k.lower(): v for k, v in self.headers.items()},
                               body=body, at=time.monotonic())
            reply = server.dispatch(request)
            if reply.delay:
                time.sleep(reply.delay)
            payload = reply.raw if reply.raw is not None else (
                b"" if reply.body is None else json.dumps(reply.body).encode())
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the client gave up first, as a timing-out client does

        do_GET = _serve
        do_POST = _serve

    return Handler
