"""HTTP calls to Microsoft services with bounded retries, shared by the live sources.

Throttling (429) waits as long as the service's Retry-After requests, or backs off exponentially
with jitter when the header is missing. Server errors (500, 502, 503, 504), timeouts and
dropped connections are retried a bounded number of times. A 401 gets one fresh token and one
more try, since a token can expire in the middle of a long run. Every retry is noted so the
caller can record it in the query's result.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from irreport.config import HttpSettings

log = logging.getLogger(__name__)

RETRIED_STATUSES = (500, 502, 503, 504)


class TokenSource(Protocol):
    """The sign-in interface the client uses; irreport.auth.TokenProvider implements it."""

    def token(self, scope: str, refresh: bool = False) -> str:
        ...


@dataclass
class Attempts:
    """The retries of one logical call, with a note for each, for the query's result."""

    retries: int = 0
    notes: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)

    def record(self, reason: str, delay: float | None) -> None:
        self.retries += 1
        if delay is not None:
            self.delays.append(delay)
            self.notes.append(f"{reason}; retried after {delay:.2f} s")
        else:
            self.notes.append(f"{reason}; retried at once")

    def summary(self) -> str:
        return f"{self.retries} retries: " + "; ".join(self.notes)


class ServiceError(Exception):
    """A call that failed for good; carries the HTTP status and the service's own message."""

    def __init__(self, message: str, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class ServiceClient:
    """Posts JSON to one service and returns the parsed JSON response."""

    name: str
    base_url: str
    scope: str
    tokens: TokenSource
    settings: HttpSettings
    verify: ssl.SSLContext | bool = True
    max_connections: int = 4
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    _client: httpx.Client | None = None

    def post_json(self, path: str, body: dict[str, Any], attempts: Attempts,
                  headers: dict[str, str] | None = None) -> Any:
        return self.request("POST", path, attempts, body=body, headers=headers)

    def get_json(self, path: str, attempts: Attempts, params: dict[str, str] | None = None) -> Any:
        return self.request("GET", path, attempts, params=params)

    def request(self, method: str, path: str, attempts: Attempts, body: Any = None,
                params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
        """Send one call, retrying within the configured bounds; raise ServiceError on failure."""
        url = self.base_url + path
        throttled = failed = 0
        refresh = refreshed = False
        while True:
            token = self.tokens.token(self.scope, refresh=refresh)
            refresh = False
            try:
                response = self._http().request(
                    method, url, json=body, params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                             **(headers or {})})
            except httpx.TimeoutException:
                failed += 1
                self._retry_or_raise(failed, attempts, f"{self.name} timed out after "
                                     f"{self.settings.timeout_seconds:g} s", None)
                continue
            except httpx.TransportError as exc:
                failed += 1
                self._retry_or_raise(failed, attempts, f"connection to {self.name} failed "
                                     f"({type(exc).__name__}: {exc})", None)
                continue
            status = response.status_code
            if status == 401 and not refreshed:
                refresh = refreshed = True
                attempts.record(f"HTTP 401 from {self.name}: {error_text(response)}; "
                                "signing in again", None)
                continue
            if status == 429:
                throttled += 1
                self._wait_throttled(throttled, attempts, response)
                continue
            if status in RETRIED_STATUSES:
                failed += 1
                self._retry_or_raise(failed, attempts, f"HTTP {status} from {self.name}: "
                                     f"{error_text(response)}", response)
                continue
            if status >= 400:
                raise ServiceError(f"HTTP {status} from {self.name}: {error_text(response)}",
                                   status=status, code=error_code(response))
            return parse_json(response, self.name)

    def _retry_or_raise(self, failures: int, attempts: Attempts, reason: str,
                        response: httpx.Response | None) -> None:
        if failures > self.settings.max_retries:
            status = response.status_code if response is not None else None
            code = error_code(response) if response is not None else "Timeout"
            raise ServiceError(f"{reason} (gave up after {self.settings.max_retries} retries)",
                               status=status, code=code)
        delay = retry_after(response) if response is not None else None
        self._pause(attempts, reason, delay if delay is not None else self.backoff(failures),
                    "Retry-After" if delay is not None else "backoff")

    def _wait_throttled(self, throttles: int, attempts: Attempts, response: httpx.Response) -> None:
        reason = f"HTTP 429 from {self.name}: {error_text(response)}"
        if throttles > self.settings.max_throttle_retries:
            raise ServiceError(f"{reason} (still throttled after "
                               f"{self.settings.max_throttle_retries} retries)",
                               status=429, code=error_code(response))
        delay = retry_after(response)
        if delay is not None and delay > self.settings.max_retry_after_seconds:
            raise ServiceError(
                f"{reason}; the service asked to wait {delay:g} s, more than "
                f"max_retry_after_seconds ({self.settings.max_retry_after_seconds:g}); "
                "run again later or raise [http] max_retry_after_seconds",
                status=429, code=error_code(response))
        self._pause(attempts, reason, delay if delay is not None else self.backoff(throttles),
                    "Retry-After" if delay is not None else "backoff")

    def _pause(self, attempts: Attempts, reason: str, delay: float, why: str) -> None:
        attempts.record(f"{reason} (waiting per {why})", delay)
        log.info("%s; retrying in %.2f s", reason, delay)
        self.sleep(delay)

    def backoff(self, attempt: int) -> float:
        """Return an exponential delay for the *attempt*-th retry, with equal jitter."""
        ceiling = min(self.settings.backoff_cap_seconds,
                      self.settings.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.settings.timeout_seconds, connect=30.0),
                verify=self.verify,
                limits=httpx.Limits(max_connections=self.max_connections),
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def tls_context(ca_bundle) -> ssl.SSLContext | bool:
    """Return the TLS verification for httpx: the system store, or a configured CA bundle."""
    if ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=str(ca_bundle))


def retry_after(response: httpx.Response | None) -> float | None:
    """Return the Retry-After delay in seconds (possibly fractional), or None when absent."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        log.debug("ignoring a Retry-After header that is neither seconds nor a date: %r", value)
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def parse_json(response: httpx.Response, service: str) -> Any:
    """Return the decoded body; an empty body (204, or a 200 without content) is None."""
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        preview = response.text[:120].replace("\n", " ")
        raise ServiceError(f"{service} returned invalid JSON (HTTP {response.status_code}, "
                           f"{exc.msg if hasattr(exc, 'msg') else exc}): {preview!r}",
                           status=response.status_code, code="InvalidJson") from None


def error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    error = lookup(body, "error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_code(response: httpx.Response) -> str:
    return str(lookup(error_object(response), "code") or "")


def error_text(response: httpx.Response) -> str:
    """Return the service's own error message with its code, or the start of the raw body."""
    error = error_object(response)
    if not error:
        return response.text[:200].strip() or response.reason_phrase or "no message"
    return describe_error(error)


def describe_error(error: dict[str, Any]) -> str:
    """Render a OneAPI error (Graph, Log Analytics, ADX) as one line: code, message, details."""
    code = lookup(error, "code") or ""
    # ADX puts its long message in "@message"; Graph and Log Analytics use "message".
    message = lookup(error, "@message") or lookup(error, "message") or ""
    parts = [f"{code}: {message}" if code else str(message)]
    inner = lookup(error, "innerError") or {}
    if isinstance(inner, dict) and lookup(inner, "message") and lookup(inner, "message") != message:
        parts.append(str(lookup(inner, "message")))
    for detail in lookup(error, "details") or []:
        if isinstance(detail, dict) and lookup(detail, "message"):
            parts.append(str(lookup(detail, "message")))
    return " - ".join(p for p in parts if p)


def lookup(mapping: dict[str, Any], key: str) -> Any:
    """Return *mapping*[key] matching the key case-insensitively, as the services vary casing."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if k.lower() == lowered), None)
