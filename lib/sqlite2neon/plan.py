"""Step 02, plan the schema: the Postgres table for every SQLite table and the conversion of
every column, decided from the profile and the parameters, before anything is written.

    >>> plan = plan_schema(profile, Params())
    >>> plan.table("mental_items").column("created_at").pg_type
    'timestamptz'
    >>> print(plan.ddl_text())
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from .config import Params
from .errors import ConfigError
from .source import ColumnProfile, SourceProfile, TableProfile, duck_ident, sql_string, sqlite_ident


@dataclass
class ColumnPlan:
    source: str
    target: str
    declared_type: str
    pg_type: str
    convert: str  # one of config.CONVERSIONS
    nullable: bool
    default: str | None  # Postgres default expression, already translated
    identity: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class IndexPlan:
    name: str
    columns: list[str]
    unique: bool
    where: str | None = None


@dataclass
class ForeignKeyPlan:
    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: str
    on_update: str


@dataclass
class TablePlan:
    source: str
    target: str
    source_sql: str
    rows: int
    columns: list[ColumnPlan]
    primary_key: list[str]
    indexes: list[IndexPlan] = field(default_factory=list)
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)
    read_as_text: bool = False  # a column's stored values do not fit DuckDB's typed reader
    exists: bool = False  # the target table was already there
    owned: bool = False  # ... and an earlier run of this runbook created it (else: the app did, e.g. Drizzle)
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> ColumnPlan:
        for col in self.columns:
            if col.source == name or col.target == name:
                return col
        raise KeyError(name)

    @property
    def identity_column(self) -> ColumnPlan | None:
        return next((c for c in self.columns if c.identity), None)


@dataclass
class Plan:
    schema: str
    tables: list[TablePlan]  # in load order: referenced tables first
    not_migrated: list[str] = field(default_factory=list)

    def table(self, name: str) -> TablePlan:
        for t in self.tables:
            if t.source == name or t.target == name:
                return t
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        raw = json.loads(text)
        tables = []
        for t in raw.pop("tables"):
            t["columns"] = [ColumnPlan(**c) for c in t["columns"]]
            t["indexes"] = [IndexPlan(**i) for i in t["indexes"]]
            t["foreign_keys"] = [ForeignKeyPlan(**f) for f in t["foreign_keys"]]
            tables.append(TablePlan(**t))
        return cls(tables=tables, **raw)

    def creates(self, table: TablePlan) -> list[sql.Composed]:
        """CREATE TABLE (marked as the runbook's own with a comment), for a table not there yet."""
        if table.exists:
            return []
        q = sql.Identifier(self.schema, table.target)
        return [create_table(self.schema, table),
                sql.SQL("COMMENT ON TABLE {} IS {}").format(q, sql.Literal(OWNED_MARK + table.source))]

    def keys_and_indexes(self, table: TablePlan) -> list[tuple[str, sql.Composed]]:
        """(index name, DDL) for the primary key and indexes, built after the data; none for a table
        the app created."""
        if table.exists and not table.owned:
            return []
        q = sql.Identifier(self.schema, table.target)
        out = []
        if table.primary_key:
            pkey = f"{table.target}_pkey"
            out.append((pkey, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                q, sql.Identifier(pkey), sql.SQL(", ").join(map(sql.Identifier, table.primary_key)))))
        for ix in table.indexes:
            out.append((ix.name, sql.SQL("CREATE {}INDEX {} ON {} ({}){}").format(
                sql.SQL("UNIQUE " if ix.unique else ""), sql.Identifier(ix.name), q,
                sql.SQL(", ").join(map(sql.Identifier, ix.columns)),
                sql.SQL(" WHERE " + ix.where) if ix.where else sql.SQL(""),
            )))
        return out

    def foreign_keys(self) -> list[tuple[str, sql.Composed]]:
        """(constraint name, ALTER TABLE) for every foreign key of the tables the runbook creates."""
        out = []
        for t in self.tables:
            if t.exists and not t.owned:
                continue
            for fk in t.foreign_keys:
                out.append((fk.name, sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}"
                ).format(
                    sql.Identifier(self.schema, t.target), sql.Identifier(fk.name),
                    sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                    sql.Identifier(self.schema, fk.ref_table),
                    sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
                    sql.SQL(fk.on_delete), sql.SQL(fk.on_update),
                )))
        return out

    def ddl_text(self) -> str:
        statements = [s for t in self.tables for s in self.creates(t)]
        for t in self.tables:
            statements += [stmt for _, stmt in self.keys_and_indexes(t)]
        statements += [stmt for _, stmt in self.foreign_keys()]
        return ";\n\n".join(s.as_string(None) for s in statements) + ";\n"


OWNED_MARK = "sqlite2neon: loaded from SQLite table "
FK_ACTIONS = {"NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"}


def create_table(schema: str, table: TablePlan) -> sql.Composed:
    cols = []
    for c in table.columns:
        parts = [sql.Identifier(c.target), sql.SQL(c.pg_type)]
        if c.identity:
            parts.append(sql.SQL("GENERATED BY DEFAULT AS IDENTITY"))
        if not c.nullable:
            parts.append(sql.SQL("NOT NULL"))
        if c.default is not None and not c.identity:
            parts.append(sql.SQL("DEFAULT " + c.default))
        cols.append(sql.SQL(" ").join(parts))
    return sql.SQL("CREATE TABLE {} (\n    {}\n)").format(
        sql.Identifier(schema, table.target), sql.SQL(",\n    ").join(cols))


def target_name(name: str) -> str:
    return name.lower()


def plan_schema(profile: SourceProfile, params: Params, existing: dict[str, dict[str, str]] | None = None,
                owned: set[str] | frozenset = frozenset()) -> Plan:
    """Decide every table and column. `existing` maps target tables already present to their columns'
    types; `owned` names those an earlier run created."""
    existing = existing or {}
    _check_overrides(profile, params)
    seen: dict[str, str] = {}
    tables = []
    for tp in profile.tables:
        name = target_name(tp.name)
        if name in seen:
            raise ConfigError(f"tables {seen[name]!r} and {tp.name!r} both become {name!r} in Postgres; rename one in the source")
        seen[name] = tp.name
        tables.append(_plan_table(tp, params, existing.get(name), name in owned))
    ordered = _load_order(tables)
    not_migrated = [f"trigger {t['name']} on {t['table']}" for t in profile.triggers]
    not_migrated += [f"view {v['name']}" for v in profile.views]
    return Plan(params.target_schema, ordered, not_migrated)


def _check_overrides(profile: SourceProfile, params: Params) -> None:
    known = {(t.name, c.name) for t in profile.tables for c in t.columns}
    for key in params.column_overrides:
        table, _, column = key.partition(".")
        if (table, column) not in known:
            raise ConfigError(f"column_overrides names {key!r}, which is not a column of the source")


def _plan_table(tp: TableProfile, params: Params, existing_cols: dict[str, str] | None, owned: bool = False) -> TablePlan:
    columns = []
    seen: dict[str, str] = {}
    for cp in tp.columns:
        col = _plan_column(tp, cp, params)
        if col.target in seen:
            raise ConfigError(f"columns {seen[col.target]!r} and {cp.name!r} of {tp.name!r} both become {col.target!r}")
        seen[col.target] = cp.name
        columns.append(col)
    pk = [target_name(c) for c in tp.primary_key]
    table = TablePlan(
        source=tp.name, target=target_name(tp.name), source_sql=tp.sql, rows=tp.rows,
        columns=columns, primary_key=pk,
        read_as_text=any(not _fits_typed_reader(c) for c in tp.columns),
    )
    for ix in tp.indexes:
        if ix.origin == "pk":
            continue
        where = None
        if ix.partial:
            m = re.search(r"\bWHERE\b(.*)$", ix.sql or "", re.I | re.S)
            where = m.group(1).strip().rstrip(";") if m else None
            if where is None:
                table.notes.append(f"partial index {ix.name} skipped: its WHERE clause could not be read")
                continue
            where = _translate_where(where, columns)
        if any(c is None for c in ix.columns):
            table.notes.append(f"index {ix.name} on an expression is not migrated: {ix.sql}")
            continue
        name = target_name(ix.name) if ix.origin == "c" else f"{table.target}_{'_'.join(ix.columns)}_key".lower()
        table.indexes.append(IndexPlan(name, [target_name(c) for c in ix.columns], ix.unique, where))
    for i, fk in enumerate(tp.foreign_keys):
        name = f"{table.target}_{'_'.join(fk.columns)}_fkey".lower()
        table.foreign_keys.append(ForeignKeyPlan(
            name, [target_name(c) for c in fk.columns], target_name(fk.ref_table),
            [target_name(c) for c in fk.ref_columns],
            fk.on_delete if fk.on_delete in FK_ACTIONS else "NO ACTION",
            fk.on_update if fk.on_update in FK_ACTIONS else "NO ACTION",
        ))
        if fk.orphans:
            table.notes.append(
                f"{fk.orphans} row(s) reference {fk.ref_table} rows that do not exist; "
                f"the foreign key {name} will fail to build"
            )
    if existing_cols is not None:
        _adopt_existing(table, existing_cols, owned)
    return table


def _translate_where(where: str, columns: list[ColumnPlan]) -> str:
    """A partial index's WHERE clause in Postgres terms: 0/1 compared with a now-boolean column."""
    for col in columns:
        if col.pg_type == "boolean":
            name = re.escape(col.source)
            where = re.sub(rf'(["`\[]?\b{name}\b["`\]]?\s*(?:=|==|!=|<>|IS|IS NOT)\s*)([01])\b',
                           lambda m: m.group(1).replace("==", "=") + ("true" if m.group(2) == "1" else "false"),
                           where, flags=re.I)
    return where


def _plan_column(tp: TableProfile, cp: ColumnProfile, params: Params) -> ColumnPlan:
    declared = cp.declared_type.upper()
    pg_type, convert, notes = _choose_type(cp, declared)
    override = params.column_overrides.get(f"{tp.name}.{cp.name}", {})
    if override:
        pg_type = override.get("type", pg_type)
        convert = override.get("convert", convert if "type" not in override else _default_convert(pg_type, cp))
        notes.append(f"overridden by parameter: {override}")
    identity = (
        cp.pk_position == 1 and len(tp.primary_key) == 1 and declared == "INTEGER" and pg_type == "bigint"
    )
    nullable = not (cp.notnull or cp.pk_position)
    default = _translate_default(cp.default, pg_type, convert, notes)
    return ColumnPlan(cp.name, target_name(cp.name), cp.declared_type, pg_type, convert, nullable, default, identity, notes)


def _choose_type(cp: ColumnProfile, declared: str) -> tuple[str, str, list[str]]:
    hints = set(cp.hints)
    stored = cp.stored_classes
    if "unix_seconds" in hints:
        return "timestamptz", "unix_seconds", ["unix seconds -> timestamptz"]
    if "unix_millis" in hints:
        return "timestamptz", "unix_millis", ["unix milliseconds -> timestamptz"]
    if "BOOL" in declared or "bool01" in hints:
        return "boolean", "bool01", ["0/1 -> boolean"]
    if declared in ("DATETIME", "TIMESTAMP") or (("TIME" in declared) and "iso_text" in hints):
        return "timestamptz", "iso_text", ["ISO text read as UTC unless it carries an offset"]
    if declared == "DATE":
        return "date", "iso_text", []
    if declared == "JSON" or "json" in hints:
        return "jsonb", "json", ["JSON text -> jsonb"]
    if "INT" in declared:
        return "bigint", "none", []
    if any(k in declared for k in ("CHAR", "CLOB", "TEXT")):
        return "text", "none", []
    if any(k in declared for k in ("REAL", "FLOA", "DOUB")):
        return "double precision", "none", []
    if declared == "" or "BLOB" in declared:
        if stored == {"integer"}:
            return "bigint", "none", ["no declared type; every value is an integer"]
        if stored and stored <= {"integer", "real"}:
            return "double precision", "none", ["no declared type; every value is a number"]
        if stored == {"text"}:
            return "text", "none", ["no declared type; every value is text"]
        return "bytea", "none", []
    if any(k in declared for k in ("DEC", "NUM")):
        return "double precision", "none", ["NUMERIC read as a float"]
    return "text", "none", []


def _default_convert(pg_type: str, cp: ColumnProfile) -> str:
    if pg_type == "timestamptz":
        hints = set(cp.hints)
        if hints & {"unix_millis", "millis_range"}:
            return "unix_millis"
        if hints & {"unix_seconds", "seconds_range"} or cp.stored_classes <= {"integer", "real"}:
            return "unix_seconds"
        return "iso_text"
    if pg_type == "date":
        return "iso_text"
    if pg_type == "jsonb":
        return "json"
    if pg_type == "boolean":
        return "bool01"
    return "none"


_NOW_DEFAULTS = re.compile(
    r"^\(?\s*(CURRENT_TIMESTAMP|unixepoch\(\s*\)|strftime\(\s*'%s'\s*,\s*'now'\s*\)|datetime\(\s*'now'\s*\))\s*\)?$", re.I
)


def _translate_default(default: str | None, pg_type: str, convert: str, notes: list[str]) -> str | None:
    if default is None:
        return None
    d = default.strip()
    if _NOW_DEFAULTS.match(d):
        if pg_type in ("timestamptz", "date"):
            return "now()" if pg_type == "timestamptz" else "CURRENT_DATE"
        if pg_type == "bigint":
            return "(extract(epoch from now()))::bigint"
    if d.upper() == "NULL":
        return "NULL"
    literal = re.fullmatch(r"\(?\s*(-?\d+(\.\d+)?)\s*\)?", d)
    if literal:
        number = literal.group(1)
        if pg_type == "boolean" and number in ("0", "1"):
            return "true" if number == "1" else "false"
        if pg_type in ("bigint", "integer", "double precision"):
            return number
    text = re.fullmatch(r"'((?:[^']|'')*)'", d)
    if text and pg_type in ("text", "jsonb", "date", "timestamptz", "bytea"):
        return sql.Literal(text.group(1).replace("''", "'")).as_string(None) + ("" if pg_type == "text" else f"::{pg_type}")
    if d.upper() in ("TRUE", "FALSE") and pg_type == "boolean":
        return d.lower()
    notes.append(f"default {default} has no Postgres translation and is not migrated")
    return None


def _fits_typed_reader(cp: ColumnProfile) -> bool:
    """Whether DuckDB's typed SQLite scan can read this column without a type mismatch."""
    stored = cp.stored_classes
    fits = {
        "BIGINT": {"integer"},
        "DOUBLE": {"integer", "real"},
        "VARCHAR": {"text", "integer", "real"},
        "BLOB": {"blob"},
    }.get(cp.duckdb_type, set())  # DATE/TIMESTAMP columns are always read raw
    return stored <= fits


_PG_TYPE_NAMES = {
    "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
    "character varying": "text", "character": "text", "integer": "integer", "bigint": "bigint",
    "smallint": "integer", "double precision": "double precision", "real": "double precision",
    "boolean": "boolean", "jsonb": "jsonb", "json": "jsonb", "text": "text", "date": "date", "bytea": "bytea",
}


def _adopt_existing(table: TablePlan, existing_cols: dict[str, str], owned: bool) -> None:
    """The target table exists: load into its columns, converting to the types it already has."""
    table.exists = True
    table.owned = owned
    table.notes.append("target table exists (created by an earlier run): loading into it" if owned
                       else "target table exists (created by the app): loading into it, no DDL")
    for col in table.columns:
        if col.target not in existing_cols:
            raise ConfigError(
                f"target table {table.target} exists but has no column {col.target} for source column {col.source}"
            )
        actual = _PG_TYPE_NAMES.get(existing_cols[col.target], existing_cols[col.target])
        if actual != col.pg_type:
            col.notes.append(f"target column is {existing_cols[col.target]}; planned {col.pg_type}")
            col.pg_type = actual


def _load_order(tables: list[TablePlan]) -> list[TablePlan]:
    """Referenced tables before the tables that reference them (cycles keep source order)."""
    by_name = {t.target: t for t in tables}
    done: list[TablePlan] = []
    visiting: set[str] = set()

    def visit(t: TablePlan) -> None:
        if t in done or t.target in visiting:
            return
        visiting.add(t.target)
        for fk in t.foreign_keys:
            if fk.ref_table in by_name and fk.ref_table != t.target:
                visit(by_name[fk.ref_table])
        visiting.discard(t.target)
        done.append(t)

    for t in tables:
        visit(t)
    return done


def owned_tables(conn: psycopg.Connection, schema: str) -> set[str]:
    """Tables in the schema that an earlier run of the runbook created (marked by their comment)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') LIKE %s",
        [schema, OWNED_MARK.replace("%", r"\%") + "%"],
    ).fetchall()
    return {r[0] for r in rows}


def existing_tables(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, str]]:
    """Tables already in the target schema, with their columns' types."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        [schema],
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, {})[column] = data_type
    return out



# --- how each column is read out of SQLite and converted, shared by load and verify -------------

def source_relation(table: TablePlan) -> str:
    """DuckDB SQL for the table's rows with every column as its typed source value."""
    if not table.read_as_text:
        return f"src.{duck_ident(table.source)}"
    # Read through SQLite itself, every value as exact text, then cast in DuckDB.
    cols = []
    for c in table.columns:
        q = sqlite_ident(c.source)
        cols.append(
            f"CASE typeof({q}) WHEN 'real' THEN printf('%!.17g', {q}) WHEN 'blob' THEN hex({q}) "
            f"ELSE CAST({q} AS TEXT) END AS {q}"
        )
    inner = f"SELECT {', '.join(cols)} FROM {sqlite_ident(table.source)}"
    return f"sqlite_query('src', {sql_string(inner)})"


def typed_value(table: TablePlan, col: ColumnPlan) -> str:
    """DuckDB expression giving the column's value as it must arrive in Postgres, typed:
    TIMESTAMP (UTC) for timestamptz, DATE, BOOLEAN, BIGINT, DOUBLE, BLOB or VARCHAR."""
    v = duck_ident(col.source)
    raw_text = table.read_as_text
    if col.convert == "unix_seconds":
        return f"make_timestamp(CAST(round(CAST({v} AS DOUBLE) * 1000000) AS BIGINT))"
    if col.convert == "unix_millis":
        return f"make_timestamp(CAST(round(CAST({v} AS DOUBLE) * 1000) AS BIGINT))"
    if col.convert == "iso_text":
        as_text = f"CAST({v} AS VARCHAR)"
        if col.pg_type == "date":
            return f"CAST({as_text} AS DATE)"
        return f"CAST(CAST({as_text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"
    if col.convert == "bool01":
        return f"CAST(CAST({v} AS BIGINT) AS BOOLEAN)"
    if col.convert == "json":
        return f"CAST({v} AS VARCHAR)"
    if col.pg_type in ("bigint", "integer"):
        return f"CAST({v} AS BIGINT)" if raw_text else v
    if col.pg_type == "double precision":
        return f"CAST({v} AS DOUBLE)" if raw_text else v
    if col.pg_type == "bytea":
        return f"unhex({v})" if raw_text else v
    if col.pg_type == "boolean":
        return f"CAST({v} AS BOOLEAN)"
    return f"CAST({v} AS VARCHAR)" if not raw_text else v


def copy_value(table: TablePlan, col: ColumnPlan) -> str:
    """DuckDB expression giving the column as text in the form Postgres' COPY reads."""
    v = typed_value(table, col)
    if col.pg_type == "timestamptz":
        return f"strftime({v}, '%Y-%m-%d %H:%M:%S.%f') || '+00'"
    if col.pg_type == "bytea":
        return f"'\\x' || lower(hex({v}))"
    if col.pg_type in ("date", "double precision"):
        return f"CAST({v} AS VARCHAR)"
    if col.pg_type in ("text", "jsonb"):
        return f"replace({v}, chr(0), chr(65533))"  # Postgres text cannot hold NUL
    return v


def copy_select(table: TablePlan) -> str:
    cols = ", ".join(f"{copy_value(table, c)} AS {duck_ident(c.target)}" for c in table.columns)
    return f"SELECT {cols} FROM {source_relation(table)}"


def step(params: Params) -> Plan:
    """The plan notebook's work: profile (from the run directory) + target's existing tables -> plan."""
    from . import record
    from .connect import connect, resolve_target
    from .source import profile_for

    profile = profile_for(params)
    target = resolve_target(params)
    with connect(target.direct_url, params, autocommit=True) as conn:
        existing = existing_tables(conn, params.target_schema)
        owned = owned_tables(conn, params.target_schema)
    plan = plan_schema(profile, params, existing, owned)
    run_dir = record.run_dir_for(params)
    record.write(run_dir, "plan.json", plan.to_json())
    record.write(run_dir, "plan.sql", plan.ddl_text())
    return plan


def plan_for(params: Params) -> Plan:
    """The plan written by step 02 into the run directory, or a fresh one when there is none."""
    from . import record

    text = record.read(record.run_dir_for(params), "plan.json")
    return Plan.from_json(text) if text else step(params)


def plan_frame(plan: Plan):
    """One row per column: SQLite declaration beside the Postgres one, and the conversion."""
    import pandas as pd

    return pd.DataFrame([
        {"table": t.target, "column": c.target, "sqlite": c.declared_type or "(none)", "postgres": c.pg_type
         + (" identity" if c.identity else "") + ("" if c.nullable else " not null"),
         "conversion": c.convert, "default": c.default, "notes": "; ".join(c.notes)}
        for t in plan.tables for c in t.columns
    ])
