"""Translations of parameterised queries to DuckDB SQL, reused in memory and on disk.

duckdb-kql takes 10 to 110 ms to parse and translate a pack query, and the text of a query with
`declare query_parameters` is the same for every device and time range. A translation is reused
while the duckdb-kql version, the exact query text and the schema it was translated against
stay the same. That schema is the columns and types of every table whose name occurs in the
text, because a query can read only the tables it names. A wildcard such as `union Device*`
can name any table, so for a text with one every table counts. DuckDB binds the values as
prepared-statement parameters on every run, so no value is ever part of the cached SQL.
The SQL is kept as `has_prefilter` rewrites it.

The disk cache is a folder of JSON files: $IRREPORT_KQL_CACHE when set ("none" turns it off),
else irreport/kql under $XDG_CACHE_HOME or ~/.cache. It only saves time. irreport also ships
the translations of its own pack against its own tables, in memory and in a database file,
in the same format (`translation_bundle` writes them). A first run on data whose tables of a
query have irreport's columns translates nothing, whatever other tables the data adds. A
folder that cannot be written, or a file that cannot be read or parsed, means that the query
is translated again.
Any user who can write to the folder can change the SQL that runs, so irreport creates it with
mode 0700.

Translation also reads duckdb-kql's process-wide stored functions, entity groups and cluster
mappings, which irreport never sets, so they are not part of the key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irreport.pack import ParameterisedQuery
from irreport.sources.has_prefilter import add_has_prefilters
from irreport.sources.statement import ExecutedStatement

log = logging.getLogger(__name__)

CACHE_ENV = "IRREPORT_KQL_CACHE"
# The pack's translations that ship with irreport, read-only.
BUNDLE_FOLDER = Path(__file__).resolve().parent / "kql_translations"
# Version of the cache file layout and of the rewrites applied to the SQL. A file of another
# version is ignored. Version 2 added the has prefilters.
FILE_FORMAT = 2
# A star next to a name, as in a wildcard table name. A product such as a*b also matches,
# and that only widens the digest to every table.
_WILDCARD = re.compile(r"\w\*|\*\w")


def cache_folder(environ: dict[str, str] | None = None) -> Path | None:
    """Return the disk cache folder, or None when it is turned off or there is no home folder."""
    environ = os.environ if environ is None else environ
    configured = environ.get(CACHE_ENV)
    if configured:
        return None if configured.lower() == "none" else Path(configured).expanduser()
    base = environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # the user has no home folder
            return None
    return Path(base) / "irreport" / "kql"


def schema_digest(con, text: str) -> str:
    """Return a digest of the current database and the tables that the KQL *text* can read.

    A table counts when its name occurs anywhere in *text*, ignoring case as DuckDB does, or
    when *text* has a wildcard. A table the text names but the database lacks then changes
    the digest once it is loaded.
    """
    # The same rows as information_schema.columns gives, read a millisecond faster.
    rows = con.execute(
        "SELECT database_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE NOT internal ORDER BY database_name, table_name, column_index").fetchall()
    if not _WILDCARD.search(text):
        lowered = text.lower()
        rows = [row for row in rows if row[1].lower() in lowered]
    current = con.execute("SELECT current_database()").fetchall()[0][0]
    return hashlib.sha256(json.dumps([current, rows]).encode("utf-8")).hexdigest()


def run_translated(con, text: str) -> ExecutedStatement:
    """Execute the KQL *text* on *con*, translated now as `duckdb_kql.kql` translates it.

    The SQL gets the has prefilters, and nothing is cached: this is for let-bound text, whose
    values change from run to run.
    """
    # The SQL assumes a UTC session, which duckdb_kql.kql also sets on every call.
    con.execute("SET TimeZone='UTC'")
    result, sql = _translated(con, text, None)
    return ExecutedStatement(con, sql, dict(result.parameters))


def _translated(con, text: str, values: dict[str, Any] | None):
    """Translate *text* against *con*'s schema; return duckdb-kql's result and the SQL to run."""
    import duckdb_kql
    from duckdb_kql.engine import schema

    result = duckdb_kql.to_sql(text, schema=schema(con), parameters=values)
    if result.unbound:
        raise duckdb_kql.KqlSchemaError(", ".join(result.unbound),
                                        hint="declared query parameter with no value")
    return result, add_has_prefilters(con, str(result))


@dataclass(frozen=True)
class CacheKey:
    """What a translation depends on besides the duckdb-kql version."""

    text: str
    schema: str

    def file_name(self, version: str) -> str:
        digest = hashlib.sha256()
        for part in (version, self.schema, self.text):
            digest.update(part.encode("utf-8") + b"\0")
        return digest.hexdigest() + ".json"


@dataclass(frozen=True)
class Translation:
    """The SQL of one parameterised query and the placeholder (slot) of each parameter."""

    sql: str
    declarations: tuple[Any, ...]
    slots: frozenset[str]

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        """Return *values* keyed by placeholder, converted to their declared types.

        The conversion is duckdb-kql's own, the one `duckdb_kql.kql` applies. A placeholder the
        SQL does not contain gets no value, because DuckDB rejects one.
        """
        import duckdb_kql
        from duckdb_kql.params import bind

        bound, unbound = bind(list(self.declarations), values)
        if unbound:
            raise duckdb_kql.KqlSchemaError(", ".join(unbound),
                                            hint="declared query parameter with no value")
        return {slot: value for slot, value in bound.items() if slot in self.slots}


class TranslationCache:
    """The translations one connection has used, kept in memory and in *folder*.

    *folder* None keeps them in memory only. A translation missing from both is looked for in
    *bundle*, the shipped translations, before duckdb-kql makes it. `counts` records how each
    query got its SQL: "translated", "memory", "disk" or "bundled".
    """

    def __init__(self, folder: Path | None, bundle: Path | None = BUNDLE_FOLDER):
        self.folder = folder
        self.bundle = bundle
        self.counts: Counter[str] = Counter()
        self._memory: dict[CacheKey, Translation] = {}
        self._write_failed = False

    def run(self, con, statement: ParameterisedQuery) -> ExecutedStatement:
        """Execute *statement* on *con*, translating it only on a miss."""
        import duckdb_kql

        # The SQL assumes a UTC session, which duckdb_kql.kql also sets on every call.
        con.execute("SET TimeZone='UTC'")
        key = CacheKey(statement.text, schema_digest(con, statement.text))
        translation = self._memory.get(key)
        if translation is not None:
            self.counts["memory"] += 1
        else:
            translation = self._read(self.folder, key, duckdb_kql.__version__)
            if translation is not None:
                self.counts["disk"] += 1
            else:
                translation = self._read(self.bundle, key, duckdb_kql.__version__)
                if translation is None:
                    return self._translate(con, key, statement)
                self.counts["bundled"] += 1
            self._memory[key] = translation
        return ExecutedStatement(con, translation.sql, translation.parameters(statement.values))

    def _translate(self, con, key: CacheKey, statement: ParameterisedQuery):
        """Translate *statement* as `duckdb_kql.kql` does, keep it if reusable, and execute it."""
        import duckdb_kql

        result, sql = _translated(con, statement.text, statement.values)
        self.counts["translated"] += 1
        translation = Translation(sql, tuple(result.declarations), frozenset(result.slots))
        declared = {declaration.slot for declaration in translation.declarations}
        # A `set query_now` statement adds a clock value that is no declared parameter, so
        # such a translation is run once and not kept.
        if set(result.parameters) <= declared and translation.slots <= declared:
            self._memory[key] = translation
            self._write(key, translation, duckdb_kql.__version__)
        return ExecutedStatement(con, sql, dict(result.parameters))

    @staticmethod
    def _read(folder: Path | None, key: CacheKey, version: str) -> Translation | None:
        if folder is None:
            return None
        path = folder / key.file_name(version)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.debug("translation cache file %s is unreadable, translating again: %s", path, exc)
            return None
        translation = _translation_from(entry, key, version)
        if translation is None:
            log.debug("translation cache file %s does not match its query, translating again",
                      path)
        return translation

    def _write(self, key: CacheKey, translation: Translation, version: str) -> None:
        if self.folder is None or self._write_failed:
            return
        try:
            text = json.dumps(_entry(translation, key, version))
        except (TypeError, ValueError) as exc:  # a declared default that JSON cannot hold
            log.debug("translation of %.60r kept in memory only: %s", key.text, exc)
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _replace_file(self.folder / key.file_name(version), text)
        except OSError as exc:
            self._write_failed = True
            log.warning("cannot write the KQL translation cache in %s (%s), so queries are "
                        "translated again on every run; set %s to a writable folder, or to "
                        "none", self.folder, exc, CACHE_ENV)


def _entry(translation: Translation, key: CacheKey, version: str) -> dict[str, Any]:
    return {
        "format": FILE_FORMAT, "duckdb_kql": version, "schema": key.schema, "text": key.text,
        "sql": translation.sql, "slots": sorted(translation.slots),
        "declarations": [{"name": d.name, "type": d.type, "slot": d.slot, "default": d.default}
                         for d in translation.declarations],
    }


def _translation_from(entry: Any, key: CacheKey, version: str) -> Translation | None:
    """Rebuild a translation from a cache file's JSON, or return None if it is not for *key*."""
    expected = {"format": FILE_FORMAT, "duckdb_kql": version, "schema": key.schema,
                "text": key.text}
    if not isinstance(entry, dict) or any(entry.get(k) != v for k, v in expected.items()):
        return None
    sql, slots, declared = entry.get("sql"), entry.get("slots"), entry.get("declarations")
    if not (isinstance(sql, str) and _strings(slots) and isinstance(declared, list)):
        return None
    declarations = [_declaration_from(item) for item in declared]
    if None in declarations:
        return None
    if not set(slots) <= {d.slot for d in declarations}:
        return None
    return Translation(sql, tuple(declarations), frozenset(slots))


def _declaration_from(item: Any):
    from duckdb_kql import ParameterDeclaration

    if not isinstance(item, dict):
        return None
    fields = [item.get(name) for name in ("name", "type", "slot")]
    if not _strings(fields):
        return None
    return ParameterDeclaration(*fields, default=item.get("default"))


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _replace_file(path: Path, text: str) -> None:
    """Write *text* to *path* through a temporary file, so a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
