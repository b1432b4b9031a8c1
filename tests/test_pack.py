"""The query pack: headers, binding and the lint that `queries check` applies."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from irreport.errors import ParameterError, QueryPackError
from irreport.lint import lint
from irreport.pack import DECLARED_TYPES, PARAM_TYPES, PHASES, QueryPack, parse_query

HEADER = """// id: {id}
// title: Test query
// answers: What does the test need?
// phase: detection-analysis
// section: further-ir
// techniques: T1059
// tables: DeviceProcessEvents
// scope: device
// param Devices: devices
// param StartTime: datetime
// param EndTime: datetime
"""


def _write(tmp_path: Path, query_id: str, body: str) -> Path:
    path = tmp_path / f"{query_id}.kql"
    path.write_text(HEADER.format(id=query_id) + body, encoding="utf-8")
    return path


def test_every_query_has_complete_metadata(pack):
    assert len(pack) >= 19
    for query in pack:
        assert query.title and query.answers, query.id
        assert query.phase in PHASES, query.id
        assert query.tables, query.id
        if query.scope == "device":
            assert query.parameter("Devices").type == "devices", query.id
        assert query.parameter("StartTime").type == "datetime", query.id


def test_pack_has_no_lint_faults(pack):
    faults = [str(f) for q in pack for f in lint(q)]
    assert faults == []


def test_pack_never_uses_ago(pack):
    for query in pack:
        assert "ago(" not in query.body, query.id


def test_bind_prepends_let_statements(pack):
    query = pack.get("inbound-then-logon")
    text = query.bind({
        "Devices": ["testmachine3", "srv-files01"],
        "StartTime": datetime(2026, 12, 1, tzinfo=timezone.utc),
        "EndTime": datetime(2026, 12, 3, tzinfo=timezone.utc),
    })
    lines = text.splitlines()
    assert lines[0] == 'let Devices = dynamic(["testmachine3", "srv-files01"]);'
    assert lines[1] == "let StartTime = datetime(2026-12-01T00:00:00.000000Z);"
    assert lines[3] == "let MaxDelaySeconds = long(150);"
    assert text.endswith(query.body)


def test_bind_escapes_hostile_device_name(pack):
    query = pack.get("logons")
    hostile = 'x"; DeviceInfo | take 1 //'
    text = query.bind({"Devices": [hostile], "StartTime": datetime(2026, 1, 1),
                       "EndTime": datetime(2026, 1, 2)})
    assert 'let Devices = dynamic(["x\\"; DeviceInfo | take 1 //"]);' in text


def test_bind_requires_missing_value(tmp_path):
    query = parse_query(_write(tmp_path, "needs-value", "DeviceProcessEvents\n"))
    with pytest.raises(ParameterError, match="Devices"):
        query.bind({})


def test_parameterise_declares_each_parameter(pack):
    query = pack.get("inbound-then-logon")
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    end = datetime(2026, 12, 3, tzinfo=timezone.utc)

    statement = query.parameterise({"Devices": "testmachine3", "StartTime": start,
                                    "EndTime": end})

    assert statement.text.splitlines()[0] == (
        "declare query_parameters(Devices:dynamic, StartTime:datetime, EndTime:datetime, "
        "MaxDelaySeconds:long);")
    assert statement.text.endswith(query.body)
    assert statement.values == {"Devices": ["testmachine3"], "StartTime": start,
                                "EndTime": end, "MaxDelaySeconds": 150}


def test_declared_types_cover_parameter_types():
    assert set(DECLARED_TYPES) == set(PARAM_TYPES)


TYPED_HEADER = """// id: typed
// title: Every parameter type
// answers: Do the values keep their types?
// phase: detection-analysis
// section: further-ir
// techniques: none
// tables: DeviceInfo
// scope: fleet
// param StartTime: datetime
// param Names: string[]
// param Name: string
// param Limit: long
// param Share: real
// param Strict: bool
// param Window: timespan
DeviceInfo
"""


def test_parameterise_types_each_value(tmp_path):
    path = tmp_path / "typed.kql"
    path.write_text(TYPED_HEADER, encoding="utf-8")
    query = parse_query(path)
    values = {"StartTime": datetime(2026, 12, 1), "Names": "a.cmd", "Name": 'x"y',
              "Limit": "42", "Share": "0.5", "Strict": "yes", "Window": timedelta(minutes=5)}

    statement = query.parameterise(values)

    assert statement.text.startswith(
        "declare query_parameters(StartTime:datetime, Names:dynamic, Name:string, Limit:long, "
        "Share:real, Strict:bool, Window:timespan);\n")
    assert statement.values == {"StartTime": datetime(2026, 12, 1), "Names": ["a.cmd"],
                                "Name": 'x"y', "Limit": 42, "Share": 0.5, "Strict": True,
                                "Window": timedelta(minutes=5)}


@pytest.mark.parametrize("name, value, expected", [
    ("Limit", "forty", "expects an integer"),
    ("Limit", True, "expects an integer"),
    ("Share", "half", "expects a number"),
    ("Names", ["a", 1], "expects strings"),
    ("Name", 7, "expects a string"),
    ("Window", "5m", "expects a timespan"),
    ("StartTime", "2026-12-01", "expects a datetime"),
])
def test_parameterise_rejects_wrong_type(tmp_path, name, value, expected):
    path = tmp_path / "typed.kql"
    path.write_text(TYPED_HEADER, encoding="utf-8")
    values = {"StartTime": datetime(2026, 12, 1), "Names": [], "Name": "", "Limit": 1,
              "Share": 1.0, "Strict": False, "Window": timedelta(0), name: value}

    with pytest.raises(ParameterError, match=expected):
        parse_query(path).parameterise(values)


def test_parameterise_requires_missing_value(tmp_path):
    query = parse_query(_write(tmp_path, "needs-value", "DeviceProcessEvents\n"))
    with pytest.raises(ParameterError, match="Devices"):
        query.parameterise({})


def test_parameterised_header_is_yes_or_no(tmp_path):
    path = _write(tmp_path, "unsure", GOOD_BODY)
    path.write_text(path.read_text().replace("// scope: device\n",
                                             "// scope: device\n// parameterised: maybe\n"))
    with pytest.raises(QueryPackError, match="parameterised is 'maybe'; expected yes or no"):
        parse_query(path)


def test_has_any_over_parameter_stays_let_bound(pack):
    # duckdb-kql compiles one regular expression per row for has_any over a parameter, so
    # such a query must declare that it takes literal values.
    for query in pack:
        for param in query.parameters:
            if param.type not in ("devices", "string[]"):
                continue
            if re.search(rf"\bhas_(any|all)\s*\(\s*{param.name}\s*\)", query.body):
                assert not query.parameterisable, (query.id, param.name)


def test_header_missing_key_is_error(tmp_path):
    path = tmp_path / "broken.kql"
    path.write_text("// id: broken\n// title: Broken\nDeviceInfo\n", encoding="utf-8")
    with pytest.raises(QueryPackError, match="broken.kql:1: header lacks"):
        parse_query(path)


def test_header_bad_param_type_names_line(tmp_path):
    path = _write(tmp_path, "bad-param", "DeviceInfo\n")
    path.write_text(path.read_text().replace("param EndTime: datetime", "param EndTime: date"))
    with pytest.raises(QueryPackError, match=r"bad-param.kql:11: unknown parameter type 'date'"):
        parse_query(path)


GOOD_BODY = ("DeviceProcessEvents\n| where Timestamp between (StartTime .. EndTime)\n"
             "| where DeviceName in~ (Devices)\n")

LINT_CASES = {
    "no-device-filter": ("DeviceProcessEvents\n| where Timestamp between (StartTime .. EndTime)\n",
                         "never filters on Devices"),
    "self-compare": (GOOD_BODY + "| where DeviceId =~ DeviceId\n", "compares column 'DeviceId'"),
    "no-time-range": ("DeviceProcessEvents\n| where DeviceName in~ (Devices)\n",
                      "does not restrict Timestamp"),
    "uses-ago": (GOOD_BODY + "| where Timestamp > ago(1d)\n", "uses ago()"),
    "not-offline": (GOOD_BODY + "| project-reorder FileName\n", "not runnable offline"),
}


@pytest.mark.parametrize("case", sorted(LINT_CASES))
def test_lint_fault(tmp_path, case):
    body, expected = LINT_CASES[case]
    query = parse_query(_write(tmp_path, case, body))
    messages = [f.message for f in lint(query)]
    assert any(expected in m for m in messages), messages


def test_lint_clean_query(tmp_path):
    query = parse_query(_write(tmp_path, "clean", GOOD_BODY))
    assert lint(query) == []


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irreport", *args], capture_output=True,
                          text=True, timeout=300)


def test_check_command_passes_on_pack():
    done = _cli("queries", "check")
    assert done.returncode == 0, done.stderr
    assert "0 faults" in done.stdout


@pytest.mark.parametrize("case", sorted(LINT_CASES))
def test_check_command_fails_on_fault(tmp_path, case):
    body, expected = LINT_CASES[case]
    _write(tmp_path, case, body)
    done = _cli("queries", "check", "--pack", str(tmp_path))
    assert done.returncode == 1
    assert expected in done.stderr


def test_pack_load_rejects_empty_folder(tmp_path):
    with pytest.raises(QueryPackError, match="no .kql files"):
        QueryPack.load(tmp_path)


def test_show_prints_bound_query():
    done = _cli("queries", "show", "inbound-then-logon", "--device", 'x"y', "--start",
                "2026-12-01", "--end", "2026-12-03")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == 'let Devices = dynamic(["x\\"y"]);'
    assert lines[1] == "let StartTime = datetime(2026-12-01T00:00:00.000000Z);"
    assert "DeviceLogonEvents" in done.stdout
