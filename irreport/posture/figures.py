"""Turning one week's posture query results into the figures the report shows."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from irreport.collect import Collection

SEVERITIES = ("High", "Medium", "Low", "Informational")
CATEGORIES = ("Attack surface reduction", "SmartScreen", "Antivirus", "Tampering",
              "Exploit Guard", "AMSI")
CONTROLS = ("Tamper protection", "Real-time protection", "Cloud-delivered protection",
            "Network protection in block mode", "ASR rules in block mode")
TOP_DEVICES = 10
# A device silent for three days by the end of the range counts as inactive here. The threshold
# is a judgment for a weekly report, not a Defender setting.
SILENT_AFTER = timedelta(days=3)
IMPAIRED_STATES = {"impairedcommunication", "impaired communications"}
MISCONFIGURED_STATES = {"misconfigured", "nosensordata", "no sensor data"}


@dataclass
class Figure:
    """A headline figure; `lower_is_better` gives the direction a reader should hope for."""

    key: str
    label: str
    value: int
    lower_is_better: bool = True


@dataclass
class ControlCompliance:
    control: str
    assessed: int
    compliant: int
    failing: list[dict[str, str]] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.compliant / self.assessed if self.assessed else 0.0


@dataclass
class PostureWeek:
    """Everything the report states about one week of the fleet."""

    devices: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    malicious: list[dict[str, Any]]
    exposure: list[dict[str, Any]]
    run_keys: list[dict[str, Any]]
    compliance: list[ControlCompliance]
    sensor_issues: list[dict[str, Any]]
    gaps: list[dict[str, str]]
    empty: list[str] = field(default_factory=list)

    def alerts_by(self, column: str) -> Counter:
        return Counter(a.get(column) or "(none)" for a in self.alerts)

    def events_by_category(self) -> Counter:
        totals: Counter = Counter()
        for row in self.malicious:
            totals[row["Category"]] += int(row["Events"] or 0)
        return totals

    def daily_trend(self) -> dict[str, dict[str, int]]:
        """Return {category: {day: events}} with the days as YYYY-MM-DD."""
        trend: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.malicious:
            trend[row["Category"]][_day(row["Day"])] += int(row["Events"] or 0)
        return {c: dict(days) for c, days in trend.items()}

    def top_devices(self, count: int = TOP_DEVICES) -> list[dict[str, Any]]:
        """Return the devices with the most malicious events, each with its counts per category."""
        per_device: dict[str, Counter] = defaultdict(Counter)
        for row in self.malicious:
            per_device[row["DeviceName"]][row["Category"]] += int(row["Events"] or 0)
        ranked = sorted(per_device.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        return [{"device": name, "total": sum(counts.values()), "categories": dict(counts)}
                for name, counts in ranked[:count]]

    def control(self, name: str) -> ControlCompliance:
        return next(c for c in self.compliance if c.control == name)

    def headline(self) -> list[Figure]:
        """Return the figures compared week over week, in the order the report lists them."""
        exposed = {r["DeviceName"] for r in self.exposure}
        noncompliant = {f["device"] for c in self.compliance for f in c.failing}
        return [
            Figure("devices_reporting", "Devices reporting", len(self.devices), False),
            Figure("alerts", "Alerts", len(self.alerts)),
            Figure("alerts_high", "High-severity alerts", self.alerts_by("Severity")["High"]),
            Figure("malicious_events", "Malicious activity events",
                   sum(self.events_by_category().values())),
            Figure("devices_with_malicious", "Devices with malicious activity",
                   len({r["DeviceName"] for r in self.malicious})),
            Figure("exposed_devices", "Devices accepting RDP or SMB from the internet",
                   len(exposed)),
            Figure("run_key_changes", "Run key changes", len(self.run_keys)),
            Figure("noncompliant_devices", "Devices failing a secure configuration control",
                   len(noncompliant)),
            Figure("tamper_protection_off", "Devices without tamper protection",
                   len(self.control("Tamper protection").failing)),
            Figure("sensor_issues", "Devices with sensor health issues",
                   len({i["device"] for i in self.sensor_issues})),
            Figure("gaps", "Queries that failed, were skipped or were cut", len(self.gaps)),
        ]


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)[:10]


def compliance_per_control(rows: list[dict[str, Any]]) -> list[ControlCompliance]:
    """Count, per control, the devices assessed and compliant; name each failing device.

    A device passes "ASR rules in block mode" only if every applicable rule is in block mode;
    assessments that are not applicable count neither way.
    """
    failing_rules: dict[tuple[str, str], list[str]] = defaultdict(list)
    assessed: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.get("IsApplicable") is False:
            continue
        control, device = row["Control"], row["DeviceName"]
        assessed[control].add(device)
        if row.get("IsCompliant") is False:
            failing_rules[(control, device)].append(row["ConfigurationId"])
    result = []
    for control in CONTROLS:
        failing = [{"device": device, "configurations": ", ".join(sorted(ids))}
                   for (name, device), ids in sorted(failing_rules.items()) if name == control]
        devices = assessed.get(control, set())
        result.append(ControlCompliance(control, len(devices), len(devices) - len(failing),
                                        failing))
    return result


def sensor_issues(devices: list[dict[str, Any]], end: datetime,
                  previous_devices: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """List devices whose sensor is inactive, misconfigured or has impaired communication.

    A device is inactive when Defender reports it so, when its last report is older than
    SILENT_AFTER at the end of the range, or when it reported the week before and not this week.
    """
    issues = []
    for row in devices:
        state = str(row.get("SensorHealthState") or "")
        last_seen = row.get("LastSeen")
        issue = None
        if state.lower() == "inactive":
            issue = "Inactive"
        elif state.lower().replace(" ", "") in {s.replace(" ", "") for s in MISCONFIGURED_STATES}:
            issue = "Misconfigured"
        elif state.lower() in IMPAIRED_STATES:
            issue = "Impaired communication"
        elif isinstance(last_seen, datetime) and end - last_seen > SILENT_AFTER:
            issue = "Inactive"
            # Defender still showed its last known state, so the reason is the silence.
            state = f"{state}, but silent for {(end - last_seen).days} days before the week's end"
        if issue:
            issues.append(_issue(row, issue, state))
    present = {row.get("DeviceId") for row in devices}
    for row in previous_devices or []:
        if row.get("DeviceId") not in present:
            issues.append(_issue(row, "Inactive", "no report this week"))
    return sorted(issues, key=lambda i: (i["issue"], i["device"]))


def _issue(row: dict[str, Any], issue: str, state: str) -> dict[str, Any]:
    return {"device": row.get("DeviceName"), "group": row.get("MachineGroup") or "",
            "issue": issue, "state": state, "last_seen": row.get("LastSeen")}


def gap_rows(collection: Collection, label: str) -> list[dict[str, str]]:
    """Return the queries of *collection* that failed, were cut or were skipped."""
    gaps = []
    for result in collection.results.values():
        if result.ok and not result.truncated:
            continue
        status = "truncated" if result.truncated else result.status
        gaps.append({"query": result.query_id, "week": label, "status": status,
                     "message": result.message})
    return gaps


def empty_queries(collection: Collection) -> list[str]:
    """Return the queries that completed with no rows: nothing seen, which is not nothing there."""
    return [r.query_id for r in collection.results.values() if r.ok and not r.rows]


def posture_week(collection: Collection, label: str,
                 previous: Collection | None = None) -> PostureWeek:
    """Compute one week's figures; *previous* is the week before, used to spot silent devices."""
    devices = collection.rows("posture-sensor-health")
    previous_devices = previous.rows("posture-sensor-health") if previous else None
    return PostureWeek(
        devices=devices,
        alerts=collection.rows("posture-alerts"),
        malicious=collection.rows("posture-malicious-activity"),
        exposure=collection.rows("posture-exposure"),
        run_keys=collection.rows("posture-run-keys"),
        compliance=compliance_per_control(collection.rows("posture-secure-configuration")),
        sensor_issues=sensor_issues(devices, collection.time_range.end, previous_devices),
        gaps=gap_rows(collection, label),
        empty=empty_queries(collection),
    )
