"""MDE settings advice: automation levels per device group and secure configuration gaps.

No Microsoft API returns a device group's automation level (the portal shows it under
Settings > Endpoints > Device groups), so the level the organisation set comes from the
`[device_groups]` table of irreport.toml, and the advice says where it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LEVELS = {
    "full": "Full - remediate threats automatically",
    "semi-all": "Semi - require approval for all folders",
    "semi-core": "Semi - require approval for core folders remediation",
    "semi-non-temp": "Semi - require approval for non-temp folders remediation",
    "none": "No automated response",
}
_CRITICAL = re.compile(r"(?i)(server|critical|domain controller|\bdc\b|tier ?0)")


@dataclass
class GroupAdvice:
    """The automation level advice for one device group."""

    group: str
    devices: list[str]
    configured: str
    recommended: str
    reason: str
    warning: str = ""


def automation_advice(device_rows: list[dict[str, Any]],
                      configured: dict[str, Any] | None) -> list[GroupAdvice]:
    """Advise a level for each machine group of the devices in *device_rows*."""
    configured = configured or {}
    groups: dict[str, list[str]] = {}
    for row in device_rows:
        groups.setdefault(row.get("MachineGroup") or "(no device group)", []).append(
            row.get("DeviceName") or "")
    advice = []
    for group, devices in sorted(groups.items()):
        setting = configured.get(group, {})
        if "critical" in setting:
            critical = bool(setting.get("critical"))
            basis = "marked critical in irreport.toml"
        else:
            match = _CRITICAL.search(group)
            critical = bool(match)
            basis = (f"taken as critical because its name contains '{match.group(0)}'; if it "
                     f"is not, set critical = false under [device_groups.\"{group}\"] in "
                     "irreport.toml" if match else "")
        level_key = str(setting.get("automation_level", "")).lower()
        current = LEVELS.get(level_key, "not set in irreport.toml; read it in the Defender "
                                         "portal under Settings > Endpoints > Device groups")
        advice.append(_advise(group, sorted(devices), current, level_key, critical, basis))
    return advice


def _advise(group: str, devices: list[str], current: str, level_key: str,
            critical: bool, basis: str = "") -> GroupAdvice:
    if critical:
        recommended = LEVELS["semi-core"]
        reason = (f"Critical machines ({basis}): approval before remediating core folders "
                  "protects business data, while automatic attack disruption still contains "
                  "the device or user without waiting for approval.")
    else:
        recommended = LEVELS["full"]
        reason = ("Interchangeable machines: full automation remediates at machine speed; "
                  "Microsoft recommends it and a wrong remediation costs a reimage at most.")
    warning = ""
    if level_key == "none":
        warning = ("'No automated response' takes this group out of automated containment "
                   "by attack disruption and leaves every remediation to an analyst: the "
                   "script in this incident ran for minutes, a queue of approvals takes hours.")
    elif level_key == "semi-all" and not critical:
        warning = ("Approval for all folders means every remediation waits in the Action "
                   "Center; pending actions expire after 7 days.")
    return GroupAdvice(group, devices, current, recommended, reason, warning)


DISRUPTION_ADVICE = [
    "Keep automatic attack disruption on; it contains devices and users even where the group "
    "needs approval for remediation, but not in groups set to 'No automated response'.",
    "Exclude only break-glass accounts from automatic user containment, and review the "
    "exclusion list each quarter.",
    "Set Defender device discovery to standard so that disruption can contain unmanaged "
    "devices the attacker reaches.",
]


def configuration_gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the applicable, non-compliant controls, one entry per device and control."""
    gaps = []
    for row in rows:
        if row.get("IsApplicable") is False or row.get("IsCompliant") is not False:
            continue
        gaps.append({"device": row.get("DeviceName"), "control": row.get("Control"),
                     "configuration_id": row.get("ConfigurationId"),
                     "name": row.get("ConfigurationName") or row.get("Control")})
    return gaps


def gap_lessons(gaps: list[dict[str, Any]]) -> list[str]:
    """Turn configuration gaps into preparation items for the post-incident review."""
    by_control: dict[tuple[str, str], list[str]] = {}
    for gap in gaps:
        # The control's group name ("Attack surface reduction rule in block mode") is shared
        # by several controls, so the lesson names the one control with its id.
        name = gap.get("name") or gap["control"]
        label = f"{name} ({gap['configuration_id']})" if gap.get("configuration_id") else name
        by_control.setdefault((label, gap["control"]), []).append(gap["device"])
    return [f"Not compliant on {', '.join(sorted(set(devices)))}: {label}; set it through "
            "Intune or group policy." for (label, _), devices in sorted(by_control.items())]
