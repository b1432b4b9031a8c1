"""The scope of a Defender XDR incident: its devices and the time range its alerts span.

Read from Microsoft Graph `GET /v1.0/security/incidents/{id}?$expand=alerts`, which needs the
permission SecurityIncident.Read.All (and SecurityAlert.Read.All for the expanded alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from irreport import config as settings
from irreport.errors import ConfigurationError, SourceError
from irreport.sources.live import build_client, parse_datetime
from irreport.sources.service import Attempts, ServiceClient, ServiceError, lookup
from irreport.timerange import TimeRange

# The dossier starts a day before the first alert, to show how the attacker got in, and ends
# six hours after the last one, to show what followed it.
MARGIN_BEFORE = timedelta(hours=24)
MARGIN_AFTER = timedelta(hours=6)
DEVICE_EVIDENCE = "#microsoft.graph.security.deviceEvidence"
PERMISSION = "the Microsoft Graph permissions SecurityIncident.Read.All and SecurityAlert.Read.All"


@dataclass(frozen=True)
class IncidentAlert:
    id: str
    title: str
    severity: str
    first_activity: datetime | None
    last_activity: datetime | None


@dataclass(frozen=True)
class IncidentDevice:
    """A device from an alert's device evidence; `name` is the FQDN advanced hunting uses."""

    name: str
    mde_device_id: str


@dataclass
class IncidentScope:
    """The devices, alerts and time range that `irreport build --incident ID` reports on."""

    incident_id: str
    title: str
    severity: str
    status: str
    alerts: list[IncidentAlert] = field(default_factory=list)
    devices: list[IncidentDevice] = field(default_factory=list)
    time_range: TimeRange | None = None

    @property
    def device_names(self) -> list[str]:
        return [d.name for d in self.devices if d.name]


def scope_for_incident(config: dict[str, Any], incident_id: str, prompt=None,
                       tokens=None) -> IncidentScope:
    """Read incident *incident_id* from Microsoft Graph and return its devices and time range.

    Raises SourceError when the incident cannot be read, naming the permission when the
    service returns 401 or 403.
    """
    if not str(incident_id).strip().isdigit():
        raise ConfigurationError(f"incident id {incident_id!r} is invalid; expected the number "
                                 "shown in the Defender portal, such as 2972395")
    endpoints = settings.endpoints(config)
    client = build_client(config, "defender", "Microsoft Graph incidents", endpoints.graph,
                          f"{endpoints.graph_audience}/.default", tokens=tokens, prompt=prompt)
    try:
        return read_incident(client, str(incident_id).strip())
    finally:
        client.close()


def read_incident(client: ServiceClient, incident_id: str) -> IncidentScope:
    path = f"/v1.0/security/incidents/{quote(incident_id)}"
    try:
        data = client.get_json(path, Attempts(), params={"$expand": "alerts"})
    except ServiceError as exc:
        hint = f"; the app needs {PERMISSION}" if exc.status in (401, 403) else ""
        raise SourceError(f"could not read incident {incident_id}: {exc}{hint}",
                          source="graph", status=exc.status) from None
    if not isinstance(data, dict):
        raise SourceError(f"incident {incident_id}: Microsoft Graph returned no incident object",
                          source="graph")
    return parse_incident(incident_id, data)


def parse_incident(incident_id: str, data: dict[str, Any]) -> IncidentScope:
    """Build the scope from an incident object with its alerts expanded."""
    raw_alerts = lookup(data, "alerts") or []
    scope = IncidentScope(
        incident_id=incident_id,
        title=str(lookup(data, "displayName") or ""),
        severity=str(lookup(data, "severity") or ""),
        status=str(lookup(data, "status") or ""),
        alerts=[_alert(a) for a in raw_alerts],
        devices=_devices(raw_alerts),
    )
    scope.time_range = activity_range(scope.alerts)
    return scope


def activity_range(alerts: list[IncidentAlert]) -> TimeRange | None:
    """Return the range from the first to the last alert activity, widened by the margins."""
    firsts = [a.first_activity or a.last_activity for a in alerts]
    lasts = [a.last_activity or a.first_activity for a in alerts]
    firsts = [t for t in firsts if t]
    lasts = [t for t in lasts if t]
    if not firsts:
        return None
    return TimeRange(min(firsts) - MARGIN_BEFORE, max(lasts) + MARGIN_AFTER)


def _alert(raw: dict[str, Any]) -> IncidentAlert:
    return IncidentAlert(
        id=str(lookup(raw, "id") or ""),
        title=str(lookup(raw, "title") or ""),
        severity=str(lookup(raw, "severity") or ""),
        first_activity=_instant(lookup(raw, "firstActivityDateTime")),
        last_activity=_instant(lookup(raw, "lastActivityDateTime")),
    )


def _instant(value: Any) -> datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed if isinstance(parsed, datetime) else None


def _devices(alerts: list[dict[str, Any]]) -> list[IncidentDevice]:
    """Return each device of the alerts' device evidence once, in order of first mention."""
    found: dict[str, IncidentDevice] = {}
    for alert in alerts:
        for evidence in lookup(alert, "evidence") or []:
            if lookup(evidence, "@odata.type") != DEVICE_EVIDENCE:
                continue
            device = IncidentDevice(name=str(lookup(evidence, "deviceDnsName") or ""),
                                    mde_device_id=str(lookup(evidence, "mdeDeviceId") or ""))
            key = device.mde_device_id or device.name.lower()
            if key and key not in found:
                found[key] = device
    return list(found.values())
