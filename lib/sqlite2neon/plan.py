"""Step 02, plan the schema: the Postgres table for every SQLite table and the conversion of
every column, decided from the profile and the parameters, before anything is written.

    >>> plan = plan_schema(profile, Params())
    >>> plan.table("mental_items").column("created_at").pg_type
    'timestamptz'
    >>> print(plan.ddl_text())
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from .config import NUMERIC, Params, numeric_scale
from .errors import ConfigError, LossesNotAccepted
from .source import RANGE_HINT, TIME_UNITS, ColumnProfile, IndexProfile, SourceProfile, TableProfile

if TYPE_CHECKING:
    from .translate import Names

PG_NAME_BYTES = 63  # Postgres cuts longer names silently; the plan shortens them visibly
OWNED_MARK = "sqlite2neon: loaded from SQLite table "
VIEW_MARK = "sqlite2neon: translated from SQLite view "  # the comment on each view the runbook creates
FK_ACTIONS = {"NO ACTION", "RESTRICT", "CASCADE", "SET NULL", "SET DEFAULT"}


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
    storage: list[str] = field(default_factory=list)  # SQLite storage classes the values use
    nul_values: int = 0
    bad_utf8_values: int = 0
    generated: str | None = None  # Postgres expression when Postgres computes the column (not loaded)
    declared_collation: str | None = None  # SQLite's: NOCASE, RTRIM, the app's; None for BINARY
    pg_collation: str | None = None  # the COLLATE of the Postgres column ("C" under citext for NOCASE)
    # numeric(p,s) over values with more than s decimals: Postgres rounds them (a listed loss)
    rounds_to_scale: int | None = None
    # a value loss of this column (`value:table.column`) is listed and accepted: verification compares
    # SQLite's values as the target keeps them (rounded to the scale, as a float4, ...), else each
    # changed value is a difference
    loss_accepted: bool = False
    # "target": the type is the one of the column already in the target, "override": column_overrides
    # names it; "": the plan chose it from the values. A given type has every value checked against it
    # (_target_type_losses)
    type_given: str = ""


@dataclass
class IndexPlan:
    """An index the load builds after the data. Per key, in order: `columns` names the target column
    ("" for an expression), `expressions` holds Postgres SQL that replaces the plain column (an
    expression index's translated expression, or a column compared with another collation than its
    own: lower("code" COLLATE "C") for NOCASE), None for the column itself; `descending` its order.
    `where`: a partial index's condition, in Postgres SQL once translated."""

    name: str
    columns: list[str]
    unique: bool
    where: str | None = None
    expressions: list[str | None] = field(default_factory=list)
    descending: list[bool] = field(default_factory=list)


@dataclass
class ForeignKeyPlan:
    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    on_delete: str
    on_update: str
    source_columns: list[str] = field(default_factory=list)
    source_ref_table: str = ""
    source_ref_columns: list[str] = field(default_factory=list)
    orphans: int = 0
    not_valid: bool = False  # orphans=load: the key holds for new rows, not for the orphans
    null_orphans: bool = False  # orphans=null: orphan references are loaded as NULL


@dataclass
class ViewPlan:
    """A SQLite view in Postgres: `sql` is its SELECT (None when it cannot be translated, `reason` says
    why: the construct and where); `reads` names the views (source names) it selects from, which are
    created before it; `columns` its output columns as translate.ViewColumn gives them (name, pg_type,
    origin: affinity, convert, text_form), which verification reads."""

    source: str
    target: str
    source_sql: str
    sql: str | None  # the SELECT in Postgres SQL; None when it cannot be translated
    reason: str = ""
    reads: list[str] = field(default_factory=list)
    columns: list[dict] = field(default_factory=list)


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
    checks: list[str] = field(default_factory=list)  # CHECK expressions in Postgres SQL
    has_rowid: bool = True
    exists: bool = False  # the target table was already there
    owned: bool = False  # ... and an earlier run of this runbook created it (else: the app did, e.g. Drizzle)
    replace: bool = False  # ... and the load drops it and creates it from this plan (if_exists is not append)
    unmapped_source: list[str] = field(default_factory=list)  # source columns with no target column
    unmapped_target: list[str] = field(default_factory=list)  # target columns no source column fills
    notes: list[str] = field(default_factory=list)
    losses: list[tuple[str, str, str, str]] = field(default_factory=list)  # (kind, name, reason, instead), to the Plan
    autoincrement_seq: int | None = None  # AUTOINCREMENT: the identity continues after this (sqlite_sequence)
    highest_id: int | None = None  # SQLite's highest INTEGER PRIMARY KEY: the identity continues after it, rejected or not

    def column(self, name: str) -> ColumnPlan:
        for col in self.columns:
            if col.source == name or col.target == name:
                return col
        raise KeyError(name)

    @property
    def identity_column(self) -> ColumnPlan | None:
        return next((c for c in self.columns if c.identity), None)

    def changed_values(self, bad_text: str = "replace") -> dict[str, int]:
        """Values the load changes on purpose, counted: "column: what" -> count. Under
        bad_text=reject nothing is changed: those rows are rejected instead."""
        out = {}
        done = {"replace": "replaced", "strip": "stripped"}.get(bad_text)
        for c in self.columns:
            if c.pg_type == "bytea":  # text arrives as its bytes: nothing replaced
                continue
            if c.nul_values and done:
                out[f"{c.target}: NUL {done}"] = c.nul_values
            if c.bad_utf8_values and done:
                out[f"{c.target}: invalid UTF-8 {done}"] = c.bad_utf8_values
        for fk in self.foreign_keys:
            if fk.null_orphans and fk.orphans:
                out[f"{', '.join(fk.columns)}: orphan reference set to NULL"] = fk.orphans
        return out


@dataclass
class FullTextPlan:
    """An FTS virtual table over a content table, carried (with `full_text: tsvector`) as a generated
    tsvector column of that table with a GIN index (PostgreSQL docs, 12.2.2 "Creating Indexes")."""

    virtual_table: str  # the SQLite FTS table
    table: str  # the target table holding the text (the FTS table's content= table)
    column: str  # the tsvector column added to it
    columns: list[str]  # the target columns whose text it indexes
    config: str = "simple"  # the text search configuration: no stemming, as FTS5's default tokenizer


@dataclass
class Loss:
    """Something that will not arrive in Postgres as it is in SQLite, decided by the plan before
    anything is written: `kind` (one of config.LOSS_KINDS), `name` (the object: a view, a trigger,
    `table.column` for a column's default or collation), the specific `reason`, and what to do
    `instead`. The run stops at the plan unless `accept_losses` names it (`accepted`)."""

    kind: str
    name: str
    reason: str
    instead: str = ""
    accepted: bool = False

    @property
    def item(self) -> str:
        """How `accept_losses` names it: `KIND:NAME`."""
        return f"{self.kind}:{self.name}"

    def accepted_by(self, patterns: list[str]) -> bool:
        """Whether an `accept_losses` list names this loss: `*`, `KIND:*` or `KIND:NAME` (names compare
        without regard to case, as SQLite's do)."""
        return any(p == "*" or p.lower() in (f"{self.kind}:*", self.item.lower()) for p in patterns)

    def describe(self) -> str:
        return f"{self.item} ({self.reason})"


@dataclass
class Plan:
    schema: str
    tables: list[TablePlan]  # in load order: referenced tables first
    views: list[ViewPlan] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)
    full_text: list[FullTextPlan] = field(default_factory=list)
    identifiers: str = "lower"
    bad_text: str = "replace"

    def lose(self, kind: str, name: str, reason: str, instead: str = "") -> Loss:
        """List a loss (once per kind and name: a second reason for the same item joins the first, so
        accepting the item is accepting every reason it shows)."""
        for loss in self.losses:
            if loss.item == f"{kind}:{name}":
                if reason not in loss.reason.split("; "):
                    loss.reason += f"; {reason}"
                    loss.instead = "; ".join(dict.fromkeys(x for x in (loss.instead, instead) if x))
                return loss
        loss = Loss(kind, name, reason, instead)
        self.losses.append(loss)
        return loss

    def accept(self, patterns: list[str]) -> None:
        """Mark the losses `accept_losses` names as accepted."""
        for loss in self.losses:
            loss.accepted = loss.accepted_by(patterns)
        accepted = {loss.name.lower() for loss in self.losses if loss.accepted and loss.kind == "value"}
        for t in self.tables:
            for c in t.columns:
                c.loss_accepted = f"{t.source}.{c.source}".lower() in accepted

    @property
    def unaccepted(self) -> list[Loss]:
        return [loss for loss in self.losses if not loss.accepted]

    def raise_for_losses(self) -> None:
        """Raise LossesNotAccepted, naming the count and the first items, unless every loss is accepted."""
        open_ = self.unaccepted
        if not open_:
            return
        shown = "; ".join(loss.describe() for loss in open_[:3])
        more = f"; and {len(open_) - 3} more" if len(open_) > 3 else ""
        items = ",".join(loss.item for loss in open_)
        raise LossesNotAccepted(
            f"{len(open_)} thing(s) would not arrive as they are in SQLite: {shown}{more}; nothing was written. "
            f"Read the plan's listed losses, then accept them with -p accept_losses '{items}' (or KIND:*, or *)")

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
        views = [ViewPlan(**v) for v in raw.pop("views", [])]
        losses = [Loss(**x) for x in raw.pop("losses", [])]
        full_text = [FullTextPlan(**x) for x in raw.pop("full_text", [])]
        return cls(tables=tables, views=views, losses=losses, full_text=full_text, **raw)

    def creates(self, table: TablePlan) -> list[sql.Composed]:
        """CREATE TABLE (marked as the runbook's own with a comment), for a table not there yet; first
        the citext extension when a column needs it (COLLATE NOCASE). A table an earlier run created is
        created again when `replace` (the load drops it first, in the same transaction)."""
        if table.exists and not table.replace:
            return []
        q = sql.Identifier(self.schema, table.target)
        needs = [CITEXT_DDL] if any(c.pg_type == "citext" for c in table.columns) else []
        return needs + [create_table(self.schema, table),
                        sql.SQL("COMMENT ON TABLE {} IS {}").format(q, sql.Literal(OWNED_MARK + table.source))]

    def keys_and_indexes(self, table: TablePlan) -> list[tuple[str, sql.Composed]]:
        """(index name, DDL) for the primary key and indexes, built after the data; none for a table
        the app created."""
        if table.exists and not table.owned:
            return []
        q = sql.Identifier(self.schema, table.target)
        out = []
        if table.primary_key:
            pkey = pg_name(f"{table.target}_pkey")
            out.append((pkey, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                q, sql.Identifier(pkey), sql.SQL(", ").join(map(sql.Identifier, table.primary_key)))))
        for ix in table.indexes:
            out.append((ix.name, sql.SQL("CREATE {}INDEX {} ON {} ({}){}").format(
                sql.SQL("UNIQUE " if ix.unique else ""), sql.Identifier(ix.name), q,
                sql.SQL(", ").join(_index_keys(ix)),
                sql.SQL(" WHERE " + ix.where) if ix.where else sql.SQL(""),
            )))
        return out

    def check_constraints(self, table: TablePlan) -> list[tuple[str, sql.Composed]]:
        """(constraint name, DDL) for the table's translated CHECK constraints."""
        if table.exists and not table.owned:
            return []
        q = sql.Identifier(self.schema, table.target)
        return [(name, sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})").format(
            q, sql.Identifier(name), sql.SQL(check)))
            for name, check in ((pg_name(f"{table.target}_check{i + 1}"), c) for i, c in enumerate(table.checks))]

    def foreign_keys(self) -> list[tuple[str, sql.Composed]]:
        """(constraint name, ALTER TABLE) for every foreign key of the tables the runbook creates."""
        out = []
        for t in self.tables:
            if t.exists and not t.owned:
                continue
            for fk in t.foreign_keys:
                out.append((fk.name, sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}{}"
                ).format(
                    sql.Identifier(self.schema, t.target), sql.Identifier(fk.name),
                    sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
                    sql.Identifier(self.schema, fk.ref_table),
                    sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
                    sql.SQL(fk.on_delete), sql.SQL(fk.on_update),
                    sql.SQL(" NOT VALID" if fk.not_valid else ""),
                )))
        return out

    def view_ddl(self) -> list[tuple[ViewPlan, sql.Composed]]:
        """(view, CREATE OR REPLACE VIEW) for every translated view, each after the views it reads
        (the plan keeps them in that order; a plan.json edited by hand is put in order again)."""
        created = {v.source: v for v in self.views if v.sql}
        ordered: list[ViewPlan] = []
        visiting: set[str] = set()

        def visit(view: ViewPlan) -> None:
            if view in ordered or view.source in visiting:
                return
            visiting.add(view.source)
            for name in view.reads:
                if name in created:
                    visit(created[name])
            ordered.append(view)

        for view in created.values():
            visit(view)
        return [(v, sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(
            sql.Identifier(self.schema, v.target), sql.SQL(v.sql))) for v in ordered]

    def full_text_ddl(self) -> list[sql.Composed]:
        """The tsvector columns and their GIN indexes (`full_text: tsvector`), each safe to run again."""
        out = []
        for f in self.full_text:
            q = sql.Identifier(self.schema, f.table)
            text = sql.SQL(" || ' ' || ").join(sql.SQL("coalesce({}::text, '')").format(sql.Identifier(c))
                                                for c in f.columns)
            out.append(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} tsvector GENERATED ALWAYS AS "
                               "(to_tsvector({}::regconfig, {})) STORED").format(
                q, sql.Identifier(f.column), sql.Literal(f.config), text))
            out.append(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({})").format(
                sql.Identifier(pg_name(f"{f.table}_{f.column}_idx")), q, sql.Identifier(f.column)))
        return out

    def ddl_text(self) -> str:
        statements = [s for t in self.tables for s in self.creates(t)]
        for t in self.tables:
            statements += [stmt for _, stmt in self.keys_and_indexes(t)]
            statements += [stmt for _, stmt in self.check_constraints(t)]
        statements += [stmt for _, stmt in self.foreign_keys()]
        statements += self.full_text_ddl()
        statements += [stmt for _, stmt in self.view_ddl()]
        return ";\n\n".join(s.as_string(None) for s in statements) + ";\n"


# citext for COLLATE NOCASE, created once: two tables loading at once would both try, and the second
# CREATE EXTENSION would fail on the catalog's unique index; the lock makes the second wait and skip.
CITEXT_DDL = sql.SQL(
    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citext') THEN "
    "PERFORM pg_advisory_xact_lock(hashtext('sqlite2neon: CREATE EXTENSION citext')); "
    "CREATE EXTENSION IF NOT EXISTS citext; END IF; END $$")


def _index_keys(ix: IndexPlan) -> list[sql.Composable]:
    keys = []
    for i, column in enumerate(ix.columns):
        expression = ix.expressions[i] if i < len(ix.expressions) else None
        key = sql.SQL("({})").format(sql.SQL(expression)) if expression else sql.Identifier(column)
        keys.append(sql.SQL("{} DESC").format(key) if i < len(ix.descending) and ix.descending[i] else key)
    return keys


def create_table(schema: str, table: TablePlan) -> sql.Composed:
    """CREATE TABLE for a planned table: each column's type (and collation), identity or generated
    expression, NOT NULL and default. Keys, indexes and checks come after the data (keys_and_indexes)."""
    cols = []
    for c in table.columns:
        parts = [sql.Identifier(c.target), sql.SQL(c.pg_type)]
        if c.pg_collation:
            parts.append(sql.SQL("COLLATE {}").format(sql.Identifier(c.pg_collation)))
        if c.identity:
            parts.append(sql.SQL("GENERATED BY DEFAULT AS IDENTITY"))
        if c.generated is not None:
            parts.append(sql.SQL(f"GENERATED ALWAYS AS ({c.generated}) STORED"))
        if not c.nullable:
            parts.append(sql.SQL("NOT NULL"))
        if c.default is not None and not c.identity and c.generated is None:
            parts.append(sql.SQL("DEFAULT " + c.default))
        cols.append(sql.SQL(" ").join(parts))
    return sql.SQL("CREATE TABLE {} (\n    {}\n)").format(
        sql.Identifier(schema, table.target), sql.SQL(",\n    ").join(cols))


def pg_name(name: str) -> str:
    """A name Postgres keeps whole: at most 63 bytes, shortened with a hash when longer."""
    if len(name.encode()) <= PG_NAME_BYTES:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    cut = name.encode()[: PG_NAME_BYTES - 9].decode("utf-8", errors="ignore")
    return f"{cut}_{digest}"


def target_name(name: str, mode: str = "lower") -> str:
    """A source name as a Postgres name under the `identifiers` parameter.

    >>> target_name("InvoiceLine", "snake_case"), target_name("Order Details", "lower")
    ('invoice_line', 'order details')
    """
    if mode == "preserve":
        out = name
    elif mode == "snake_case":
        out = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
        out = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", out)
        out = re.sub(r"[^\w]+", "_", out.lower()).strip("_") or "_"
    else:
        out = name.lower()
    return pg_name(out)


def match_key(name: str) -> str:
    """Column names match across the two schemas ignoring case and underscores (created_at ~ createdAt)."""
    return re.sub(r"[\W_]+", "", name.lower())


def plan_schema(profile: SourceProfile, params: Params, existing: dict[str, dict[str, "TargetColumn"]] | None = None,
                owned: set[str] | frozenset = frozenset(), text_support: "TextSupport | None" = None) -> Plan:
    """Decide every table and column. `existing` maps target tables already present to their columns;
    `owned` names those an earlier run created; `text_support` says what the target offers for
    COLLATE NOCASE (target_text_support; None: citext and ASCII-only folding, as on the embedded server)."""
    existing = existing or {}
    text_support = text_support or TextSupport()
    _check_overrides(profile, params)
    seen: dict[str, str] = {}
    tables = []
    for tp in profile.tables:
        name = target_name(tp.name, params.identifiers)
        if name in seen:
            raise ConfigError(
                f"tables {seen[name]!r} and {tp.name!r} both become {name!r} in Postgres with "
                f"identifiers={params.identifiers}; use identifiers=preserve or rename one in the source")
        seen[name] = tp.name
        if name in existing and name in owned and params.if_exists != "append":
            tables.append(_replaced_table(tp, params, text_support))
        else:
            tables.append(_plan_table(tp, params, existing.get(name), name in owned, text_support))
    _plan_foreign_keys(profile, tables, params)
    plan = Plan(params.target_schema, _load_order(tables), identifiers=params.identifiers, bad_text=params.bad_text)
    _plan_expressions(profile, plan, params)
    for v in profile.virtual_tables:
        carried = _plan_full_text(plan, v, params)
        plan.lose("virtual_table", v["name"], _virtual_reason(v) + (
            f"; carried as the tsvector column {carried.table}.{carried.column} with a GIN index (full_text: "
            "tsvector): queries use @@ instead of MATCH, and words are split and ranked differently" if carried else ""),
            _virtual_instead(v) if not carried else "query the tsvector column with to_tsquery / websearch_to_tsquery")
    for t in profile.triggers:
        plan.lose("trigger", t["name"], f"a trigger on {t['table']}: triggers are not migrated",
                  "rewrite it as a PL/pgSQL trigger in Postgres, or do its work in the app")
    for table in plan.tables:  # what planning a table found that it cannot carry
        for kind, name, reason, instead in table.losses:
            plan.lose(kind, name, reason, instead)
        table.losses = []
    plan.accept(params.accept_losses)
    return plan


def _plan_full_text(plan: Plan, v: dict, params: Params) -> FullTextPlan | None:
    """With `full_text: tsvector`, an FTS3/4/5 table over a migrated content table (`content='t'`)
    becomes a tsvector column of that table; None when not asked or not possible."""
    if params.full_text != "tsvector" or not v["module"].startswith("fts"):
        return None
    content = re.search(r"content\s*=\s*'([^']+)'", v["sql"] or "", re.I)
    columns = _fts_columns(v["sql"] or "")
    try:
        table = plan.table(content.group(1)) if content else None
        targets = [table.column(c).target for c in columns] if table else []
    except KeyError:
        return None
    if table is None or not targets or (table.exists and not table.owned):
        return None
    name = target_name(v["name"], params.identifiers)
    if name in {c.target for c in table.columns}:
        name = pg_name(f"{name}_tsv")
    carried = FullTextPlan(v["name"], table.target, name, targets)
    plan.full_text.append(carried)
    return carried


def _fts_columns(create_sql: str) -> list[str]:
    """The indexed columns of `CREATE VIRTUAL TABLE x USING fts5(a, b, content='t', ...)`: the
    arguments that are names, not `option=value` (https://www.sqlite.org/fts5.html section 4)."""
    m = re.search(r"\bUSING\s+\w+\s*\((.*)\)\s*;?\s*$", create_sql, re.I | re.S)
    if not m:
        return []
    out = []
    for arg in m.group(1).split(","):
        arg = arg.strip()
        if arg and "=" not in arg:
            out.append(arg.split()[0].strip('"`[]'))
    return out


def _virtual_reason(v: dict) -> str:
    external = re.search(r"content\s*=\s*'[^']+'", v["sql"] or "", re.I)
    if external:
        shadows = (f"; its shadow tables {', '.join(v['shadow_tables'])} hold only its index of the content table's "
                   "rows, which are migrated; they are not copied") if v["shadow_tables"] else ""
    else:  # FTS with its own content, R*Tree: the rows live nowhere else
        shadows = (" ROWS ARE LOST: it holds its own rows (in its shadow tables "
                   f"{', '.join(v['shadow_tables']) or 'of its module'}), and they exist nowhere else in the file")
    kind = "a full-text index" if v["module"].startswith("fts") else "a virtual table"
    return f"{kind} (SQLite module {v['module']}), which Postgres has no equivalent of{shadows}"


def _virtual_instead(v: dict) -> str:
    if v["module"].startswith("fts"):
        content = re.search(r"content\s*=\s*'([^']*)'", v["sql"] or "", re.I)
        over = f" on {content.group(1)}" if content and content.group(1) else ""
        return (f"full-text search in Postgres is a tsvector column with a GIN index{over}, e.g. ALTER TABLE t ADD "
                "COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, '') || ' ' || "
                "coalesce(body, ''))) STORED; CREATE INDEX ON t USING gin (search); queries use @@ instead of MATCH")
    if v["module"].startswith("rtree"):
        return "PostGIS, or box/point columns with a GiST index"
    return "recreate what it provides in Postgres by hand"


def _check_overrides(profile: SourceProfile, params: Params) -> None:
    known = {(t.name, c.name) for t in profile.tables for c in t.columns}
    for key in params.column_overrides:
        table, _, column = key.partition(".")
        if (table, column) not in known:
            raise ConfigError(f"column_overrides names {key!r}, which is not a column of the source")


# PostgreSQL's system columns: no user column may have these names (PostgreSQL docs, 5.6 "System Columns").
SYSTEM_COLUMNS = {"tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"}


def _plan_table(tp: TableProfile, params: Params, target: dict[str, "TargetColumn"] | None, owned: bool,
                text_support: "TextSupport | None" = None) -> TablePlan:
    columns = []
    seen: dict[str, str] = {}
    lost: list[tuple[str, str, str, str]] = []
    for cp in tp.columns:
        col = _plan_column(tp, cp, params, lost, text_support or TextSupport())
        if col.target in seen:
            raise ConfigError(f"columns {seen[col.target]!r} and {cp.name!r} of {tp.name!r} both become {col.target!r}")
        if col.target in SYSTEM_COLUMNS and target is None:
            raise ConfigError(f"column {tp.name}.{cp.name} has the name of a PostgreSQL system column ({col.target}), "
                              "which no table may use; rename it in SQLite (or create the table yourself with "
                              "target_ddl); nothing was written")
        seen[col.target] = cp.name
        columns.append(col)
    table = TablePlan(
        source=tp.name, target=target_name(tp.name, params.identifiers), source_sql=tp.sql, rows=tp.rows,
        columns=columns, primary_key=[target_name(c, params.identifiers) for c in tp.primary_key],
        has_rowid=not tp.without_rowid, notes=list(tp.notes), losses=lost, autoincrement_seq=tp.autoincrement_seq,
    )
    for clause in tp.conflict_clauses:
        table.notes.append(f"{clause}: Postgres constraints have no conflict clause; a row SQLite would resolve "
                           "this way fails in Postgres instead (the app's INSERT ... ON CONFLICT must say it)")
    if tp.autoincrement_seq is not None:
        table.notes.append(f"AUTOINCREMENT: new ids continue after {tp.autoincrement_seq}, the highest SQLite "
                           "ever handed out (sqlite_sequence), even if rows with the highest ids were deleted")
    _plan_identity_floor(tp, table)
    if not tp.primary_key:
        table.notes.append("no primary key in SQLite: none in Postgres either")
    for ix in tp.indexes:
        if ix.origin == "pk":
            _check_key_collations(tp, ix, table)
            continue
        planned = _plan_index(tp, ix, table, params)
        if planned is not None:
            table.indexes.append(planned)
    if target is not None:
        _adopt_existing(tp, table, target, owned, params)
    return table


def _replaced_table(tp: TableProfile, params: Params, text_support: "TextSupport") -> TablePlan:
    """A table an earlier run of the runbook created, planned from the source as if it were new: the
    load drops it and creates it from this plan in the table's own transaction (a failure keeps the old
    one), so its columns, keys, indexes and checks are this plan's and nothing of an older source stays.
    Its rows are replaced, so only where `if_exists` lets them be (with `append` it is loaded into as it
    is; with `fail` the load refuses a table that holds rows)."""
    table = _plan_table(tp, params, None, False, text_support)
    table.exists = table.owned = table.replace = True
    table.notes.append("target table exists (created by an earlier run): dropped and created again from this plan, "
                       "its rows replaced")
    return table


BIGINT_MAX = 2 ** 63 - 1  # the largest bigint, and of a bigint identity's sequence (PostgreSQL docs, 8.1.1)


def _plan_identity_floor(tp: TableProfile, table: TablePlan) -> None:
    """The id the identity continues after: SQLite's highest INTEGER PRIMARY KEY (`highest_id`, so a
    rejected row's id is not handed out again), or sqlite_sequence's, whichever is higher. When that is
    the largest bigint no next id exists: the load sets the sequence to its maximum, so an insert without
    an id fails ("reached maximum value of sequence"); SQLite would pick an unused rowid at random, or,
    with AUTOINCREMENT, fail with SQLITE_FULL (https://www.sqlite.org/autoinc.html), and a note says so."""
    col = table.identity_column
    if col is None:
        return
    cp = tp.column(col.source)
    if cp.stored_classes == {"integer"} and cp.max is not None:
        try:
            table.highest_id = int(cp.max)  # a rowid alias stores integers only: max is its digits
        except ValueError:
            pass
    if max(table.highest_id or 0, table.autoincrement_seq or 0) >= BIGINT_MAX:
        table.notes.append(f"SQLite's highest id is {BIGINT_MAX}, the largest bigint: the identity of {col.target} "
                           "has no next value, so its sequence is set to its maximum and an insert without an id fails "
                           "(\"reached maximum value of sequence\"); SQLite would pick an unused id at random, or "
                           "with AUTOINCREMENT fail (SQLITE_FULL). Give new rows their ids explicitly")


def _plan_column(tp: TableProfile, cp: ColumnProfile, params: Params, lost: list,
                 text_support: "TextSupport | None" = None) -> ColumnPlan:
    declared = cp.declared_type.upper()
    if tp.strict and declared.strip() == "ANY":  # keeps every value as given, as BLOB affinity does (stricttables.html)
        declared = ""
    pg_type, convert, notes = _choose_type(cp, declared)
    override = params.column_overrides.get(f"{tp.name}.{cp.name}", {})
    if override:
        pg_type = override.get("type", pg_type)
        convert = override.get("convert", convert if "type" not in override else _default_convert(pg_type, cp))
        notes.append(f"overridden by parameter: {override}")
    identity = (
        cp.pk_position == 1 and len(tp.primary_key) == 1 and declared == "INTEGER" and pg_type == "bigint"
        and not tp.without_rowid
    )
    nullable = not (cp.notnull or cp.pk_position)  # Postgres keys are NOT NULL: a NULL key is rejected
    bad_text_notes = []  # not for bytea, which carries text as its bytes, whatever they are
    if cp.nul_values:
        bad_text_notes.append(f"{cp.nul_values} value(s) hold a NUL character: {_bad_text_action(params)}")
    if cp.bad_utf8_values:
        bad_text_notes.append(f"{cp.bad_utf8_values} value(s) are not valid UTF-8: {_bad_text_action(params)}")
    notes += bad_text_notes
    if len(cp.stored_classes) > 1:
        notes.append("mixed storage classes: " + ", ".join(f"{k} {v}" for k, v in cp.storage.items() if v and k != "null"))
    if "type" not in override:
        pg_type = _widen_for_default(cp, pg_type, convert, notes)
    if pg_type == "json" and cp.pk_position:  # a primary key needs equality, which json has not
        pg_type = "jsonb"
        if cp.json_repeated_keys:
            lost.append(("value", f"{tp.name}.{cp.name}", f"{cp.json_repeated_keys} value(s) repeat a key in one "
                         "object; in a primary key the column must be jsonb, which keeps only the last value of a "
                         "repeated key", "remove the repeated keys in SQLite first, or accept that jsonb keeps the last"))
        # a value jsonb cannot hold is a rejected row, reported with its reason by the load
    _value_losses(tp, cp, pg_type, convert, params, lost)
    pg_type, pg_collation = _plan_collation(tp, cp, pg_type, notes, lost, text_support or TextSupport())
    default = _translate_default(tp, cp, pg_type, convert, notes, lost)
    scale = numeric_scale(pg_type)
    rounds = scale if scale is not None and (cp.decimal_shape or [0, 0])[1] > scale else None
    if pg_type == "bytea":
        notes = [n for n in notes if n not in bad_text_notes]
    return ColumnPlan(cp.name, target_name(cp.name, params.identifiers), cp.declared_type, pg_type, convert, nullable,
                      default, identity, notes, sorted(cp.stored_classes), cp.nul_values, cp.bad_utf8_values,
                      declared_collation=cp.collation if cp.collation not in (None, "BINARY") else None,
                      pg_collation=pg_collation, rounds_to_scale=rounds,
                      type_given="override" if "type" in override else "")


def _value_losses(tp: TableProfile, cp: ColumnProfile, pg_type: str, convert: str, params: Params,
                  lost: list) -> None:
    """Values the chosen type and conversion would not carry as they are: instants outside the
    plausible years (a unit misread: milliseconds read as seconds give the year 54191) and digits
    beyond microseconds (timestamptz keeps microseconds: PostgreSQL docs, 8.5 "Date/Time Types").
    Each is a listed loss `value:table.column` with its count and an example."""
    from datetime import datetime, timedelta, timezone

    from .source import unit_seconds

    name = f"{tp.name}.{cp.name}"
    if (m := NUMERIC.fullmatch(pg_type)) and (cp.decimal_shape or [0, 0])[1] > int(m.group(2)):
        lost.append(("value", name, f"values have up to {cp.decimal_shape[1]} decimal(s), and {pg_type} rounds "
                     f"them to {m.group(2)} (e.g. 0.125 -> {round_half_up('0.125', int(m.group(2)))})",
                     "leave the type to the plan (it widens to numeric), or accept the rounding: verification "
                     "then compares SQLite's values rounded the same way"))
    if pg_type in ("double precision", "real") and cp.wide_integers:
        lost.append(("value", name, f"{cp.wide_integers} integer(s) beyond 2^53, which {pg_type} rounds to the "
                     "nearest float (PostgreSQL docs, 8.1.3)", "leave the type to the plan (numeric holds them), or "
                     "accept the rounding"))
    if pg_type not in ("timestamptz", "timestamp", "date"):
        return
    units = "convert unix_seconds, unix_millis, unix_micros or julian_day"
    if convert in TIME_UNITS and cp.outside_years.get(convert):
        count, example = cp.outside_years[convert], cp.outside_example.get(convert, "")
        try:
            year = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=unit_seconds(float(example), convert))).year
            shown = f"e.g. {example} read as {_unit_words(convert)} is the year {year}"
        except (ValueError, OverflowError):
            shown = f"e.g. {example} read as {_unit_words(convert)} is no date Postgres can hold"
        lost.append(("value", name, f"{count} value(s) fall outside the years {params.timestamp_years} ({shown})",
                     f"check the unit (column_overrides: {units}), or widen timestamp_years"))
    if cp.outside_years.get("text"):  # ISO text, in any time column: the same window as for numbers
        lost.append(("value", name, f"{cp.outside_years['text']} text value(s) fall outside the years "
                     f"{params.timestamp_years} (e.g. {cp.outside_example['text']!r})",
                     "keep the text in a text column (column_overrides: type text), or widen timestamp_years"))
    if convert in TIME_UNITS and "ambiguous_unit" in cp.hints:
        lost.append(("value", name, f"its numbers fit more than one unit (seconds, milliseconds, microseconds, Julian "
                     f"days); read as {_unit_words(convert)}, the others would land on wrong instants",
                     f"set the unit with column_overrides ({units}), after fixing the values that use another"))
    if pg_type != "date" and convert == "julian_day" and cp.finer_than_micros.get(convert):
        lost.append(("value", name, f"{cp.finer_than_micros[convert]} number(s) are no whole number of milliseconds "
                     f"as Julian days, which SQLite reads to the millisecond: they are rounded to milliseconds (e.g. "
                     f"{cp.finer_example[convert]})", "keep the numbers in a number column (column_overrides: type "
                     "double precision), or accept the rounding"))
    elif pg_type != "date" and cp.finer_than_micros.get(convert):
        lost.append(("value", name, f"{cp.finer_than_micros[convert]} number(s) have digits beyond microseconds as "
                     f"{_unit_words(convert)}, which {pg_type} cannot hold: they are rounded to microseconds (e.g. "
                     f"{cp.finer_example[convert]})", "keep the numbers in a number column (column_overrides: type "
                     "double precision), or accept the rounding"))
    if pg_type != "date" and cp.sub_microsecond:
        lost.append(("value", name, f"{cp.sub_microsecond} value(s) have digits beyond microseconds, which "
                     f"{pg_type} cannot hold: they are cut to microseconds (e.g. {cp.sub_microsecond_example!r})",
                     "keep the text in a text column (column_overrides: type text), or accept the truncation"))


def _unit_words(unit: str) -> str:
    return "Julian days" if unit == "julian_day" else unit.replace("_", " ")


def round_half_up(text: str, scale: int) -> str:
    """Decimal text rounded to `scale` decimals, halves away from zero, as Postgres rounds numeric
    input to a column's scale (PostgreSQL docs, 8.1.2 "Arbitrary Precision Numbers")."""
    from decimal import ROUND_HALF_UP, Decimal

    if not Decimal(text).is_finite():  # NaN is NaN at any scale; an infinity no numeric(p,s) holds
        return text
    return str(Decimal(text).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))


def _bad_text_action(params: Params) -> str:
    return {"replace": "replaced with U+FFFD and counted", "strip": "removed and counted",
            "reject": "the row is rejected"}[params.bad_text]


_NUMERIC_DECL = re.compile(r"^(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$")


def _choose_type(cp: ColumnProfile, declared: str) -> tuple[str, str, list[str]]:
    """(Postgres type, conversion, notes) for a column from its declaration and what it stores: a type
    that holds every value the inspection saw, narrower than text or bytea only where the values allow."""
    from .translate import affinity_of

    hints = set(cp.hints)
    stored = cp.stored_classes
    if "blob" in stored and affinity_of(declared) == "BLOB":
        # SQLite keeps a BLOB as it is in a column of BLOB affinity (no type, or BLOB: datatype3.html
        # section 3.1), whatever the other values suggest: nothing narrower than bytea holds it
        return _blob_affinity_type(stored)
    if "unix_seconds" in hints:
        return "timestamptz", "unix_seconds", ["unix seconds -> timestamptz"] + _ambiguous(hints)
    if "unix_millis" in hints:
        return "timestamptz", "unix_millis", ["unix milliseconds -> timestamptz"] + _ambiguous(hints)
    if "unix_micros" in hints:
        return "timestamptz", "unix_micros", ["unix microseconds -> timestamptz"] + _ambiguous(hints)
    if "julian_day" in hints:
        return "timestamptz", "julian_day", [_JULIAN_NOTE] + _ambiguous(hints) + _julian_or_seconds(cp)
    if "BOOL" in declared or "bool01" in hints:
        return "boolean", "bool01", ["0/1 -> boolean"]
    # a DATE column whose text carries times of day: a date cannot hold them, the type that can (as a
    # decimal too wide for its declared type widens to numeric), its numbers read as in a DATETIME column
    timed = [f"declared DATE, but {cp.times_of_day} value(s) carry a time of day (e.g. {cp.times_of_day_example!r}): "
             "timestamptz, so none is cut to its date"] if declared == "DATE" and cp.times_of_day else []
    if declared in ("DATETIME", "TIMESTAMP") or "TIMESTAMP" in declared or ("TIME" in declared and "iso_text" in hints) \
            or timed:
        unit = _number_unit(hints)
        if stored <= {"text"}:
            return "timestamptz", "iso_text", timed + ["ISO text -> timestamptz (naive text read as UTC)"]
        julian = [_JULIAN_NOTE] + _julian_or_seconds(cp) if unit == "julian_day" else []
        return "timestamptz", unit, timed + julian + [f"numbers read as {_unit_words(unit)}, text as ISO (naive as UTC)"]
    if declared == "DATE":
        return "date", "iso_text", []
    if declared == "JSON" or "json" in hints:
        # jsonb would keep only a repeated key's last value, and refuses \u0000 (docs 8.14): json keeps the text
        notes = [f"JSON text -> json, not jsonb: {cp.json_repeated_keys} value(s) repeat a key in one object (e.g. "
                 f"{(cp.json_repeated_example or '')[:80]!r}), which json keeps as written and jsonb would reduce to "
                 "the last"] if cp.json_repeated_keys else []
        notes += [f"JSON text -> json, not jsonb: {cp.json_unheld} value(s) hold the escape \\u0000 or a surrogate "
                  f"escape without its pair (e.g. {(cp.json_unheld_example or '')[:80]!r}), which json keeps as written "
                  "and jsonb cannot hold"] if cp.json_unheld else []
        return ("json", "json", notes) if notes else ("jsonb", "json", ["JSON text -> jsonb"])
    if m := _NUMERIC_DECL.match(declared):
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        most_int, most_scale = cp.decimal_shape or (0, 0)
        if most_scale > scale or most_int > precision - scale:  # SQLite does not enforce (p,s): never round
            return "numeric", "none", [f"declared {cp.declared_type}, but values have up to {most_int} integer digit(s) "
                                       f"and {most_scale} decimal(s): widened to numeric, so none is rounded or refused"]
        return f"numeric({precision},{scale})", "none", ["exact decimal, never through a float"]
    if "INT" in declared:
        if "real" in stored:  # INTEGER affinity keeps a real that is not a whole number as a real
            return "numeric", "none", ["declared integer, but some values are reals: numeric holds both exactly"]
        return "bigint", "none", []
    if any(k in declared for k in ("CHAR", "CLOB", "TEXT")):
        return "text", "none", []
    if any(k in declared for k in ("REAL", "FLOA", "DOUB")):
        if cp.wide_integers:  # REAL affinity makes integers reals on insert, so this is rare
            return "numeric", "none", [_WIDE_INTEGERS.format(cp.wide_integers)]
        return "double precision", "none", []
    if any(k in declared for k in ("DEC", "NUM")):
        return "numeric", "none", ["exact decimal, never through a float"]
    if declared == "" or "BLOB" in declared:
        if stored == {"integer"}:
            return "bigint", "none", ["no declared type; every value is an integer"]
        if stored and stored <= {"integer", "real"}:
            if cp.wide_integers:
                return "numeric", "none", [_WIDE_INTEGERS.format(cp.wide_integers)]
            return "double precision", "none", ["no declared type; every value is a number"]
        return _blob_affinity_type(stored)
    return "text", "none", []


# IEEE 754 doubles hold every integer up to 2^53 and not all beyond (PostgreSQL docs, 8.1.3 "Floating-Point Types")
_WIDE_INTEGERS = ("{} integer(s) beyond 2^53, which double precision would round: numeric holds integers and reals "
                  "exactly (a real as the shortest decimal that reads back as the same double)")


def _blob_affinity_type(stored: set[str]) -> tuple[str, str, list[str]]:
    """A column of BLOB affinity (no declared type, or BLOB) holding text, BLOBs or a mix: (type, conversion, notes)."""
    if stored == {"text"}:
        return "text", "none", ["no declared type; every value is text"]
    if "blob" in stored or not stored:
        mixed = stored - {"blob"}
        return "bytea", "none", [f"BLOBs beside {', '.join(sorted(mixed))}: every value as bytes (text as the bytes "
                                 "SQLite holds, numbers as their digits)"] if mixed else []
    return "text", "none", ["no declared type and mixed values: kept as text"]


_JULIAN_NOTE = ("Julian day numbers (SQLite's julianday(), format 12 of lang_datefunc.html) -> timestamptz, each read "
                "as SQLite reads it, to the millisecond")


def _number_unit(hints: set[str]) -> str:
    """The unit a timestamp column's numbers are read in, from the ranges they fit: seconds by default."""
    for unit in ("unix_millis", "unix_micros", "julian_day"):
        if hints & {unit, RANGE_HINT[unit]}:
            return unit
    return "unix_seconds"


def _julian_or_seconds(cp: ColumnProfile) -> list[str]:
    """The plan's word when Julian days are as plausible read as unix seconds: every number, read as
    seconds, also lands inside timestamp_years (in late January 1970)."""
    if cp.outside_years.get("unix_seconds"):
        return []
    return ["AMBIGUOUS: read as unix seconds every number would also land inside timestamp_years (late January "
            "1970); Julian days were chosen. If they are seconds, set column_overrides: convert unix_seconds"]


def _ambiguous(hints: set[str]) -> list[str]:
    return ["AMBIGUOUS: the numbers fit more than one unit; the unit most of them fit was chosen, and numbers "
            "that land outside the plausible years are a listed loss"] if "ambiguous_unit" in hints else []


def _default_convert(pg_type: str, cp: ColumnProfile) -> str:
    if pg_type in ("timestamptz", "timestamp"):
        hints = set(cp.hints)
        if hints & {"unix_millis", "millis_range"}:
            return "unix_millis"
        if hints & {"unix_micros", "micros_range"}:
            return "unix_micros"
        if hints & {"julian_day", "julian_range"}:
            return "julian_day"
        if hints & {"unix_seconds", "seconds_range"} or cp.stored_classes & {"integer", "real"}:
            return "unix_seconds"
        return "iso_text"
    if pg_type == "date":
        return "iso_text"
    if pg_type in ("jsonb", "json"):
        return "json"
    if pg_type == "boolean":
        return "bool01"
    return "none"


def _widen_for_default(cp: ColumnProfile, pg_type: str, convert: str, notes: list[str]) -> str:
    """`pg_type`, or numeric when the plan's numeric(p,s) or double precision cannot hold the value SQLite
    stores for the column's DEFAULT (12.345 under DECIMAL(5,2), an integer beyond 2^53) and numeric holds
    it exactly: a default is a value of the column too, and SQLite enforces no (p,s) (datatype3.html
    section 3.1). Other types keep their default as a listed loss when it does not fit."""
    from .translate import translate_default

    if cp.default is None or not (pg_type == "double precision" or NUMERIC.fullmatch(pg_type)):
        return pg_type
    done = translate_default(cp.default, cp.declared_type, pg_type, convert)
    if done.sql is not None or translate_default(cp.default, cp.declared_type, "numeric", convert).sql is None:
        return pg_type
    notes.append(f"DEFAULT {cp.default}: {done.reason}; widened to numeric, which holds it and every value exactly")
    return "numeric"


def _translate_default(tp: TableProfile, cp: ColumnProfile, pg_type: str, convert: str, notes: list[str],
                       lost: list) -> str | None:
    """The column's DEFAULT in Postgres (translate.translate_default): the value SQLite stores for a row
    that omits the column, as the load converts it; one with no faithful translation is a listed loss."""
    from .translate import translate_default

    if cp.default is None:
        return None
    done = translate_default(cp.default, cp.declared_type, pg_type, convert)
    if done.sql is None:
        lost.append(("default", f"{tp.name}.{cp.name}", f"DEFAULT {cp.default}: {done.reason}",
                     "set the default in Postgres by hand, or in the app"))
    elif done.note:
        notes.append(done.note)
    return done.sql


# --- collations and indexes -------------------------------------------------------------------------

@dataclass
class TextSupport:
    """What the target offers for SQLite's COLLATE NOCASE, which folds A-Z to a-z and nothing else
    (https://www.sqlite.org/datatype3.html section 7.1). NOCASE columns become `citext COLLATE "C"`:
    citext compares through lower() (https://www.postgresql.org/docs/current/citext.html), and its
    equality and hashing use the database's default collation whatever the column's, so it folds
    exactly A-Z only where that collation's lower() does (`ascii_lower`: LC_CTYPE C or POSIX, the
    builtin C locale). `citext`: the extension is installed, or this role may create it (it is
    trusted: CREATE on the database suffices); `citext_missing` says why not.

        >>> TextSupport(citext=False, citext_missing="it is not available on this server")
    """

    citext: bool = True
    ascii_lower: bool = True
    citext_missing: str = ""


def target_text_support(conn: psycopg.Connection) -> TextSupport:
    """Ask the target what TextSupport it gives: whether citext is there or can be created, and whether
    lower() folds A-Z and nothing else (tried on A-Z and on a few letters beyond ASCII)."""
    installed, available, may_create, ascii_lower = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citext'), "
        "EXISTS (SELECT FROM pg_available_extensions WHERE name = 'citext'), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "lower('ABCDEFGHIJKLMNOPQRSTUVWXYZ') = 'abcdefghijklmnopqrstuvwxyz' "
        "AND lower(U&'\\00C0\\00C9\\0391\\0414') = U&'\\00C0\\00C9\\0391\\0414'").fetchone()
    missing = "" if installed or (available and may_create) else (
        "is not available on this server" if not available else "is not installed, and this role may not create it")
    return TextSupport(citext=not missing, ascii_lower=bool(ascii_lower), citext_missing=missing)


# the types convert.py converts to other than text (its _KNOWN, less text): every other type is read as text
_NOT_TEXT = {"bigint", "integer", "smallint", "double precision", "real", "numeric", "boolean", "timestamptz",
             "timestamp", "date", "jsonb", "json", "bytea", "uuid"}


def _holds_text(pg_type: str) -> bool:
    """Whether a column of this type holds its values as text (text, citext, varchar(n)), as convert.py reads it."""
    return pg_type.split("(")[0].strip() not in _NOT_TEXT


def _plan_collation(tp: TableProfile, cp: ColumnProfile, pg_type: str, notes: list[str], lost: list,
                    text_support: TextSupport) -> tuple[str, str | None]:
    """(Postgres type, COLLATE) for the column's SQLite collation. NOCASE on text: citext COLLATE "C",
    which compares, orders (by the bytes of the folded text, as SQLite) and keeps unique ignoring the
    case of A-Z. RTRIM, the app's collations and NOCASE without citext are listed losses."""
    name = f"{tp.name}.{cp.name}"
    collation = cp.collation
    if collation in (None, "BINARY"):
        return pg_type, None
    if not _holds_text(pg_type):
        notes.append(f"COLLATE {collation}: no effect on {pg_type} values (SQLite applies collations to text only)")
        return pg_type, None
    if collation == "NOCASE" and pg_type == "text" and text_support.citext:
        notes.append('COLLATE NOCASE: citext COLLATE "C", equal, ordered and unique ignoring the case of A-Z only, '
                     "as in SQLite")
        if not text_support.ascii_lower:
            lost.append(("collation", name, "COLLATE NOCASE folds A-Z only; on this target lower() folds more "
                         "letters (É to é), and citext's = and unique indexes fold with it: values SQLite keeps apart "
                         "('É', 'é') are equal in Postgres", "a database created with LC_CTYPE C (or the builtin C "
                         "locale) folds as SQLite does; or accept"))
        return "citext", "C"
    if collation == "NOCASE":
        why = f"citext {text_support.citext_missing}" if pg_type == "text" else f"the column is {pg_type} (override)"
        lost.append(("collation", name, f"COLLATE NOCASE has no faithful Postgres form here ({why}): =, ORDER BY "
                     "and GROUP BY on it are case-sensitive in Postgres; unique indexes keep NOCASE through "
                     "lower(... COLLATE \"C\")", "install citext on the target (CREATE EXTENSION citext) and plan "
                     "again, or accept"))
    elif collation == "RTRIM":
        lost.append(("collation", name, "COLLATE RTRIM ignores trailing spaces; no Postgres collation does: =, "
                     "ORDER BY and GROUP BY on it count them ('a ' <> 'a'); unique indexes keep RTRIM through "
                     "rtrim(..., ' ')", "compare rtrim(column, ' ') in the app's queries, or accept"))
    else:
        lost.append(("collation", name, f"COLLATE {collation} is defined by the app, so its rules are unknown here: "
                     "Postgres compares the text byte by byte", "create an equivalent collation in Postgres by hand, "
                     "or accept"))
    return pg_type, None


def _semantics(col: ColumnPlan) -> str:
    """The SQLite collation the Postgres column compares with."""
    return "NOCASE" if col.pg_type == "citext" else "BINARY"


def _collated_key(sql_text: str, collation: str) -> str | None:
    """A text key compared with `collation` whatever its column's: NOCASE as lower() under "C" (A-Z
    only), RTRIM as rtrim(' '), BINARY as plain text (not citext); None for an app's collation."""
    return {"NOCASE": f'lower(({sql_text})::text COLLATE "C")', "RTRIM": f"rtrim(({sql_text})::text, ' ')",
            "BINARY": f"({sql_text})::text"}.get(collation)


def _check_key_collations(tp: TableProfile, ix: IndexProfile, table: TablePlan) -> None:
    """A primary key declared with another collation than its columns' (PRIMARY KEY (code COLLATE NOCASE))
    cannot be kept: Postgres' key compares as the column does."""
    for name, collation in zip(ix.columns, ix.collations or []):
        col = next((c for c in table.columns if c.source == name), None)
        if col is not None and _holds_text(col.pg_type) and collation != _semantics(col):
            table.losses.append(("collation", f"{tp.name}.{name}", f"the PRIMARY KEY compares it with COLLATE "
                                 f"{collation}, the Postgres key as the column ({_semantics(col)})",
                                 "declare the collation on the column in SQLite, or accept"))


def _plan_index(tp: TableProfile, ix: IndexProfile, table: TablePlan, params: Params) -> IndexPlan | None:
    """The index in Postgres: columns as they are, a column compared with another collation than its
    own as an expression (lower("code" COLLATE "C") for NOCASE), an expression translated like a CHECK
    (translate_expression over the target names). What cannot be carried is a listed loss."""
    from .translate import translate_expression

    name = ix.name if ix.origin == "c" else f"{tp.name}_{'_'.join(c or '' for c in ix.columns)}_key"
    by_source = {c.source: c for c in table.columns}
    names = _table_names(table)
    columns, expressions = [], []
    collations = ix.collations or ["BINARY"] * len(ix.columns)
    expression_sql = ix.expressions or [None] * len(ix.columns)
    for column, collation, expression in zip(ix.columns, collations, expression_sql):
        if column is not None and column in by_source:
            col = by_source[column]
            key = None
            if col.pg_type == "json":  # json has no equality: its text, compared as SQLite's BINARY does
                key = f"({sql.Identifier(col.target).as_string(None)}::text)"
            elif _holds_text(col.pg_type) and collation != _semantics(col):
                key = _collated_key(sql.Identifier(col.target).as_string(None), collation)
                if key is None:
                    return _lose_index(table, ix, f"{column} is compared with COLLATE {collation}, defined by the app")
            columns.append(col.target)
            expressions.append(key)
            continue
        if expression is None:
            return _lose_index(table, ix, f"an index on an expression that could not be read: {ix.sql}")
        translated = translate_expression(expression, tp.name, names)
        if translated is None:
            return _lose_index(table, ix, f"the expression {expression} has no faithful Postgres translation")
        key, why = _expression_key(expression, translated, collation, table)
        if key is None:
            return _lose_index(table, ix, f"the expression {expression} {why}")
        columns.append("")
        expressions.append(key)
    if ix.partial and ix.where is None:
        return _lose_index(table, ix, f"a partial index whose condition could not be read: {ix.sql}")
    descending = list(ix.descending) if any(ix.descending or []) else []
    return IndexPlan(target_name(name, params.identifiers), columns, ix.unique, ix.where if ix.partial else None,
                     expressions if any(e is not None for e in expressions) else [], descending)


def _lose_index(table: TablePlan, ix: IndexProfile, why: str) -> None:
    kind = "unique index" if ix.unique else "index"
    table.losses.append(("index", ix.name, f"{kind} on {table.source}: {why}", "create it in Postgres by hand"))
    return None


def _expression_key(expression: str, translated: str, collation: str, table: TablePlan) -> tuple[str | None, str]:
    """(Postgres key for an expression compared with `collation`, or None and why). SQLite compares an
    expression's value with BINARY unless COLLATE says otherwise; in Postgres a value read from a citext
    column stays citext (case-insensitive), so such a value is compared as text; NOCASE and RTRIM keys
    are taken only for expressions that give text (a number compared as text would change its equality)."""
    import sqlglot
    from sqlglot import exp

    node = sqlglot.parse_one(f"SELECT {expression}", read="sqlite").expressions[0]
    while isinstance(node, exp.Paren):
        node = node.this
    citext = {c.source.lower() for c in table.columns if c.pg_type == "citext"}
    text_columns = {c.source.lower() for c in table.columns if _holds_text(c.pg_type)}
    reads_citext = any(c.name.lower() in citext for c in node.find_all(exp.Column))
    gives_text = isinstance(node, (exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Replace, exp.DPipe)) or (
        isinstance(node, exp.Column) and node.name.lower() in text_columns)
    if collation == "BINARY":
        passes_through = isinstance(node, (exp.Column, exp.Coalesce, exp.Nullif, exp.Case, exp.If, exp.Min, exp.Max))
        return (f"({translated})::text" if reads_citext and passes_through else translated), ""
    if collation not in ("NOCASE", "RTRIM"):
        return None, f"is compared with COLLATE {collation}, defined by the app"
    if not gives_text:
        return None, f"is compared with COLLATE {collation}, and may not give text"
    return _collated_key(translated, collation), ""


def _table_names(table: TablePlan) -> "Names":
    """One table's names and types, for translating its own expressions (index keys)."""
    from .translate import Names

    return Names(tables={table.source: table.target}, columns={table.source: {c.source: c.target for c in table.columns}},
                 types={table.target: {c.target: _expression_type(c.pg_type) for c in table.columns}})


def _expression_type(pg_type: str) -> str:
    """The type translate.py reasons with: citext is text there (compared case-insensitively in Postgres,
    as the NOCASE column was in SQLite)."""
    return "text" if pg_type == "citext" else pg_type


# --- foreign keys, checks, generated columns and views --------------------------------------------

def _plan_foreign_keys(profile: SourceProfile, tables: list[TablePlan], params: Params) -> None:
    by_source = {t.source: t for t in tables}
    for tp in profile.tables:
        table = by_source[tp.name]
        for fk in tp.foreign_keys:
            parent = by_source.get(fk.ref_table)
            name = f"{tp.name}({', '.join(fk.columns)})"
            if parent is None:
                table.losses.append(("foreign_key", name, f"it references {fk.ref_table}, which is not migrated",
                                     f"migrate {fk.ref_table} too (tables), or add the key by hand later"))
                continue
            try:
                columns = [table.column(c).target for c in fk.columns]
                ref_columns = [parent.column(c).target for c in fk.ref_columns]
            except KeyError:
                table.losses.append(("foreign_key", name, f"it references {fk.ref_table}{fk.ref_columns}, "
                                     "a column that does not exist", "fix the declaration in SQLite"))
                continue
            if not fk.ref_unique and not _unique_parent_key(parent, ref_columns, fk, name, table, params):
                continue
            for c, r in zip(columns, ref_columns):  # SQLite compares a reference under the parent's collation
                child, key = table.column(c), parent.column(r)
                if key.pg_type == "citext" and child.pg_type == "text":
                    child.pg_type, child.pg_collation = "citext", key.pg_collation
                    child.notes.append(f"citext like {parent.target}.{key.target}, which it references: SQLite "
                                       "compares the reference under the parent's NOCASE")
            name = pg_name(f"{table.target}_{'_'.join(columns)}_fkey")
            plan = ForeignKeyPlan(
                name, columns, parent.target, ref_columns,
                fk.on_delete if fk.on_delete in FK_ACTIONS else "NO ACTION",
                fk.on_update if fk.on_update in FK_ACTIONS else "NO ACTION",
                list(fk.columns), fk.ref_table, list(fk.ref_columns), max(fk.orphans, 0),
            )
            if plan.orphans:
                _plan_orphans(table, plan, params)
            table.foreign_keys.append(plan)


def _unique_parent_key(parent: TablePlan, ref_columns: list[str], fk, name: str, table: TablePlan,
                       params: Params) -> bool:
    """A foreign key to columns without a unique constraint (SQLite accepts the declaration, Postgres
    does not): with `foreign_key_unique` and unique data in the parent, a unique index is added to the
    parent and the key is created; otherwise the key is a listed loss. Decided before any data."""
    referenced = f"{fk.ref_table}({', '.join(fk.ref_columns)})"
    if params.foreign_key_unique and not fk.ref_duplicates:
        index = pg_name(f"{parent.target}_{'_'.join(ref_columns)}_key")
        if index not in {ix.name for ix in parent.indexes}:
            parent.indexes.append(IndexPlan(index, list(ref_columns), True, None))
            parent.notes.append(f"unique index {index} added for the foreign key {name}: the data of {referenced} "
                                "is unique (foreign_key_unique)")
        return True
    data = (f"{fk.ref_duplicates} row(s) of {fk.ref_table} repeat a value" if fk.ref_duplicates
            else f"its data is unique, so foreign_key_unique: true would add the unique constraint")
    table.losses.append(("foreign_key", name, f"it references {referenced}, which is neither a primary key nor "
                         f"unique: Postgres refuses such a foreign key ({data})",
                         "make the referenced columns unique, or reference the parent's primary key"))
    return False


def _plan_orphans(table: TablePlan, fk: ForeignKeyPlan, params: Params) -> None:
    what = f"{fk.orphans} row(s) of {table.source} reference {fk.source_ref_table} rows that do not exist"
    if params.orphans == "stop":
        raise ConfigError(f"{what} (foreign key {', '.join(fk.source_columns)}); nothing was written. "
                          "Set orphans to load (keep them; the key is created NOT VALID) or null (clear the reference)")
    if params.orphans == "load":
        fk.not_valid = True
        table.notes.append(f"{what}: loaded as they are; {fk.name} is created NOT VALID (checked for new rows only)")
        return
    for c in fk.columns:
        col = table.column(c)
        if not col.nullable:
            raise ConfigError(f"{what}, but {table.source}.{col.source} is NOT NULL, so orphans=null cannot clear it; "
                              "use orphans=load")
    fk.null_orphans = True
    table.notes.append(f"{what}: their {', '.join(fk.source_columns)} is set to NULL")


def _names(plan: Plan) -> "Names":
    from .translate import Names

    return Names(
        tables={t.source: t.target for t in plan.tables},
        columns={t.source: {c.source: c.target for c in t.columns} for t in plan.tables},
        types={t.target: {c.target: _expression_type(c.pg_type) for c in t.columns} for t in plan.tables},
    )


def _plan_expressions(profile: SourceProfile, plan: Plan, params: Params) -> None:
    """CHECK constraints, partial-index conditions, generated columns and views, in Postgres SQL."""
    from .translate import translate_expression

    names = _names(plan)
    by_source = {t.source: t for t in plan.tables}
    for tp in profile.tables:
        table = by_source[tp.name]
        if table.exists and not table.owned:
            continue
        if tp.unread:
            plan.lose("check", tp.name, f"its CREATE TABLE statement could not be read ({tp.unread}): its CHECK "
                      "constraints and generated columns would not arrive", "add them in Postgres by hand")
        for check in tp.checks:
            if tp.check_violations.get(check):
                plan.lose("check", f"{tp.name}: {check}", f"{tp.check_violations[check]} row(s) in SQLite break this "
                          "CHECK (written while SQLite did not check it, e.g. with PRAGMA ignore_check_constraints): "
                          "Postgres cannot add it over them", "fix those rows in SQLite, or add the CHECK in Postgres "
                          "by hand as NOT VALID (checked for new rows only)")
                continue
            translated = translate_expression(check, tp.name, names)
            if translated is None:
                plan.lose("check", f"{tp.name}: {check}", "no faithful Postgres translation of this CHECK",
                          "add an equivalent CHECK in Postgres by hand")
            else:
                table.checks.append(translated)
        for ix in list(table.indexes):
            if ix.where is None:
                continue
            translated = translate_expression(ix.where, tp.name, names)
            if translated is None:
                table.indexes.remove(ix)
                plan.lose("index", ix.name, f"partial index on {tp.name}: WHERE {ix.where} has no faithful translation",
                          "create it in Postgres by hand")
            else:
                ix.where = translated
        for cp in tp.columns:
            if cp.generated is None:
                continue
            col = table.column(cp.name)
            translated = translate_expression(cp.generated, tp.name, names)
            if translated is None:
                col.notes.append(f"generated as {cp.generated} in SQLite, no translation: loaded as plain values")
                plan.lose("generated", f"{tp.name}.{cp.name}", f"GENERATED ALWAYS AS ({cp.generated}) has no faithful "
                          "translation: its values are loaded as plain values", "add a generated column by hand")
            else:
                col.generated = translated
                col.notes.append(f"generated column: Postgres computes {translated}")
    _plan_views(profile, plan, params, names)


def _plan_views(profile: SourceProfile, plan: Plan, params: Params, names: "Names") -> None:
    """Every view, each after the views it reads (translate.in_dependency_order), translated over the
    tables' names and how SQLite holds their columns (views.view_names) and over the views translated
    before it. A view that is not created is a listed loss with its specific reason; so is a view
    reading one (naming it)."""
    from dataclasses import asdict

    from .translate import in_dependency_order, view_translation
    from .views import view_names

    names = view_names(plan, profile, names)
    used = {t.target for t in plan.tables}
    created: set[str] = set()
    for view, reads in in_dependency_order(profile.views):
        target = target_name(view["name"], params.identifiers)
        if target in used:
            plan.lose("view", view["name"], f"its Postgres name {target} is taken by a table",
                      "use identifiers=preserve, or rename it in SQLite")
            continue
        used.add(target)
        missing = [name for name in reads if name not in created]
        if missing:
            sql_, reason, columns = None, f"reads view {missing[0]}, which is not created", []
        else:
            translation = view_translation(view["sql"] or "", names)
            sql_, reason, columns = translation.sql, translation.reason, translation.columns
        plan.views.append(ViewPlan(view["name"], target, view["sql"] or "", sql_, reason, list(reads),
                                   [asdict(c) for c in columns]))
        if sql_ is None:
            plan.lose("view", view["name"], reason, "write it in Postgres by hand")
        else:
            created.add(view["name"])
            names.add_view(view["name"], target, columns)


@dataclass
class TargetColumn:
    """A column of a table already in the target."""

    pg_type: str
    nullable: bool
    has_default: bool


_PG_TYPE_NAMES = {
    "timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
    "character varying": "text", "character": "text", "integer": "integer", "bigint": "bigint",
    "smallint": "smallint", "double precision": "double precision", "real": "real",
    "boolean": "boolean", "jsonb": "jsonb", "json": "json", "text": "text", "date": "date", "bytea": "bytea",
    "uuid": "uuid", "numeric": "numeric",
}


def _adopt_existing(tp: TableProfile, table: TablePlan, target: dict[str, TargetColumn], owned: bool,
                    params: Params) -> None:
    """The target table exists: map columns by name (case and underscores ignored), convert each value
    to the type the target column has, and account for the columns on either side that do not map: a
    source column holding values with no target column is a listed loss (`column:table.column`); two
    source columns matching one target column stop the plan (ConfigError). Values the target's types
    would change are listed by the plan step (_target_type_losses), which reads them; instants a
    timestamp or date column would read outside the plausible years are listed from the profile
    (_value_losses), as for the plan's own types."""
    table.exists = True
    table.owned = owned
    table.notes.append("target table exists (created by an earlier run): loading into it" if owned
                       else "target table exists (created by the app): loading into its columns, no DDL")
    by_key = {match_key(name): name for name in target}
    mapped: dict[str, ColumnPlan] = {}
    for col in table.columns:
        name = col.target if col.target in target else by_key.get(match_key(col.source))
        if name is None:
            table.unmapped_source.append(col.source)
            continue
        if name in mapped:
            raise ConfigError(
                f"source columns {table.source}.{mapped[name].source} and {table.source}.{col.source} both map to the "
                f"target column {table.target}.{name} (names match ignoring case and underscores), which COPY cannot "
                "fill twice; nothing was written. Rename one in SQLite, or give the target table a column for each")
        tc = target[name]
        col.target = name
        if tc.pg_type != col.pg_type:
            col.notes.append(f"target column is {tc.pg_type}; planned {col.pg_type}")
            col.pg_type, col.type_given = tc.pg_type, "target"
            col.rounds_to_scale = numeric_scale(tc.pg_type)
            if tc.pg_type in ("timestamptz", "timestamp") and col.convert not in TIME_UNITS:
                col.convert = "unix_seconds" if {"integer", "real"} & set(col.storage) else "iso_text"
            if tc.pg_type in ("timestamptz", "timestamp", "date"):
                _value_losses(tp, tp.column(col.source), tc.pg_type, col.convert, params, table.losses)
        col.nullable = tc.nullable
        mapped[name] = col
    table.columns = list(mapped.values())
    by_source = {c.source: c.target for c in mapped.values()}
    table.primary_key = [by_source[c] for c in tp.primary_key if c in by_source]
    for name, tc in target.items():
        if name in mapped:
            continue
        table.unmapped_target.append(name)
        if not tc.nullable and not tc.has_default:
            raise ConfigError(f"target column {table.target}.{name} is NOT NULL without a default, and no source "
                              f"column of {table.source} maps to it; add the column in SQLite or a default in Postgres")
    for name in table.unmapped_source:
        values = sum(n for k, n in tp.column(name).storage.items() if k != "null")
        if values:
            table.losses.append(("column", f"{tp.name}.{name}", f"the target table {table.target} has no column for "
                                 f"it; its {values} non-null value(s) would not arrive",
                                 f"add a column for it to {table.target} (target_ddl), or accept"))
    if table.unmapped_source:
        table.notes.append(f"source columns with no target column, not loaded: {', '.join(table.unmapped_source)}")
    if table.unmapped_target:
        table.notes.append(f"target columns no source column fills (default or NULL): {', '.join(table.unmapped_target)}")


def owned_tables(conn: psycopg.Connection, schema: str) -> set[str]:
    """Tables in the schema that an earlier run of the runbook created: marked by their comment and
    recorded in the runbook's state (`_sqlite2neon.tables`, written in the transaction that created
    them). A table the app or `target_ddl` created is neither, and is never dropped."""
    if conn.execute("SELECT to_regclass('_sqlite2neon.tables')").fetchone()[0] is None:
        return set()
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN _sqlite2neon.tables s ON s.schema_name = n.nspname AND s.table_name = c.relname "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND obj_description(c.oid, 'pg_class') LIKE %s",
        [schema, OWNED_MARK.replace("%", r"\%") + "%"],
    ).fetchall()
    return {r[0] for r in rows}


def existing_tables(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, TargetColumn]]:
    """Tables already in the target schema, with their columns (generated columns left out)."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type, udt_name, character_maximum_length, numeric_precision, "
        "numeric_scale, is_nullable = 'YES', column_default IS NOT NULL OR is_identity = 'YES' "
        "FROM information_schema.columns WHERE table_schema = %s AND is_generated = 'NEVER' "
        "ORDER BY table_name, ordinal_position",
        [schema],
    ).fetchall()
    out: dict[str, dict[str, TargetColumn]] = {}
    for table, column, data_type, udt, length, precision, scale, nullable, has_default in rows:
        if data_type == "character varying" and length:
            pg_type = f"varchar({length})"
        elif data_type == "character" and length:
            pg_type = f"char({length})"
        elif data_type == "numeric" and precision is not None:
            pg_type = f"numeric({precision},{scale or 0})"
        else:
            pg_type = _PG_TYPE_NAMES.get(data_type, udt)
        out.setdefault(table, {})[column] = TargetColumn(pg_type, nullable, has_default)
    return out


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


def step(params: Params) -> Plan:
    """The plan notebook's work: profile (from the run directory) + target's existing tables -> plan.

    A `target_ddl` file is run inside a transaction that is rolled back, so the plan sees the tables it
    creates while nothing is written; the load step runs it for real. Columns whose type a target table
    (or column_overrides) gives have their values read from SQLite, and those the type would change are
    listed losses (_target_type_losses)."""
    from pathlib import Path

    from . import record
    from .config import resolve_path
    from .connect import connect, resolve_target
    from .source import profile_for

    profile = profile_for(params)
    target = resolve_target(params)
    with connect(target.direct_url, params) as conn:
        if params.target_ddl:
            run_target_ddl(conn, params.target_schema, Path(resolve_path(params.target_ddl)).read_text())
        existing = existing_tables(conn, params.target_schema)
        owned = owned_tables(conn, params.target_schema)
        text_support = target_text_support(conn)
        conn.rollback()
    plan = plan_schema(profile, params, existing, owned, text_support)
    _target_type_losses(plan, params)
    run_dir = record.run_dir_for(params)
    record.write(run_dir, "plan.json", plan.to_json())
    record.write(run_dir, "plan.sql", plan.ddl_text())
    return plan


def run_target_ddl(conn: psycopg.Connection, schema: str, ddl: str) -> None:
    """Run a `target_ddl` file's SQL in the open transaction with the target schema first on the
    search_path (created if missing), so an unqualified CREATE TABLE lands in it, not in public."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
    conn.execute(sql.SQL(ddl))


# What a target column's type does to values it converts without refusing them, as a listed loss's
# reason: {n} is the count, {example} the first such value and {kept} what the target keeps of it.
_TYPE_CHANGES = {
    "real": "{n} value(s) are not exactly a float4, which keeps about 6 significant digits (PostgreSQL docs, 8.1.3): "
            "e.g. {example} becomes {kept}",
    "double precision": "{n} value(s) have more digits than a double holds (integers beyond 2^53, numbers with more "
                        "than 17 significant digits; PostgreSQL docs, 8.1.3): e.g. {example} becomes {kept}",
    "integer": "{n} text value(s) are spelled otherwise than {type} prints them (leading zeros, a sign, spaces): "
               "e.g. '{example}' becomes {kept}",
    "numeric": "{n} value(s) have more decimals than {type} keeps: they are rounded (PostgreSQL docs, 8.1.2), "
               "e.g. {example} becomes {kept}",
    "timestamp": "{n} value(s) carry a UTC offset, which timestamp (without time zone) cannot hold: stored as the "
                 "UTC time of day, e.g. '{example}' becomes {kept}",
    "char": "{n} value(s) are shorter than {type}, which pads them with spaces (PostgreSQL docs, 8.3): e.g. "
            "'{example}' becomes '{kept}'",
    "jsonb": "{n} value(s) repeat a key in one object, of which jsonb keeps only the last (PostgreSQL docs, 8.14): "
             "e.g. '{example}' becomes {kept}",
    "uuid": "{n} text value(s) are spelled otherwise than uuid prints them (upper case, braces or hyphens "
            "elsewhere): e.g. '{example}' becomes {kept}",
}


def _type_family(pg_type: str) -> str | None:
    """The key of _TYPE_CHANGES for a type that can change a value it accepts; None for the others
    (text, numeric, timestamptz, boolean, ... keep every value they accept, or refuse it)."""
    from .convert import CHAR, NUMERIC

    if pg_type in ("bigint", "integer", "smallint"):
        return "integer"
    if NUMERIC.fullmatch(pg_type):
        return "numeric"
    if CHAR.fullmatch(pg_type):
        return "char"
    return pg_type if pg_type in ("real", "double precision", "timestamp", "uuid", "jsonb") else None


def _target_type_losses(plan: Plan, params: Params) -> None:
    """Values the types of target columns (tables already in the target) would change without refusing
    them, read from SQLite: each column's are a listed loss `value:table.column` with their count and an
    example. A value is changed when its canonical form as SQLite holds it differs from its form as the
    target keeps it (canonical.source_form), the comparison verification makes; a value the type
    refuses (too long, out of range, 2 for a boolean) is rejected with its reason instead."""
    from . import canonical, convert
    from .config import resolve_path
    from .source import open_source

    # an override's rounding is listed from the profile (_value_losses)
    tables = [(t, [i for i, c in enumerate(t.columns) if c.type_given and _type_family(c.pg_type)
                   and not (c.type_given == "override" and c.rounds_to_scale is not None)]) for t in plan.tables]
    tables = [(t, columns) for t, columns in tables if columns and t.rows]
    if not tables:
        return
    src = open_source(resolve_path(params.sqlite_path))
    try:
        convert.register(src)
        canonical.register(src)
        for table, columns in tables:
            read = convert.TableRead(table, params.bad_text)
            parts = []
            for i in columns:
                cv = read.converted[i]
                changed = (f"NOT {cv.failed} AND ({canonical.source_form(read, i, kept=False)}) IS DISTINCT FROM "
                           f"({canonical.source_form(read, i, kept=True)})")
                parts.append(f"count_if({changed}), first({read.shown(i)}) FILTER (WHERE {changed}), "
                             f"first(CAST({_kept_text(table.columns[i], cv.value)} AS VARCHAR)) FILTER (WHERE {changed})")
            row = src.execute(f"SELECT {', '.join(parts)} FROM {read.relation()}").fetchone()
            for j, i in enumerate(columns):
                n, example, kept = row[3 * j: 3 * j + 3]
                if not n:
                    continue
                col = table.columns[i]
                reason = _TYPE_CHANGES[_type_family(col.pg_type)].format(n=n, example=example, kept=kept,
                                                                         type=col.pg_type)
                given = (f"the target column {table.target}.{col.target} is" if col.type_given == "target" else
                         f"column_overrides makes {table.source}.{col.source}")
                plan.lose("value", f"{table.source}.{col.source}", f"{given} {col.pg_type}: {reason}", "change the target column's type to one that holds them "
                          "(the plan's own choice is in its notes), or accept: verification then compares the values "
                          "as the target keeps them")
    finally:
        src.close()
    plan.accept(params.accept_losses)


def _kept_text(col: ColumnPlan, value: str) -> str:
    """DuckDB SQL: a converted value as the target column keeps it, for a loss's example."""
    from .convert import CHAR, copy_text

    if col.pg_type == "real":
        return f"CAST(CAST(CAST({value} AS FLOAT) AS DOUBLE) AS VARCHAR)"
    if col.rounds_to_scale is not None:
        return f"round_half_up({value}, {col.rounds_to_scale})"
    if col.pg_type == "jsonb":
        return f"jsonb_text({value})"
    if m := CHAR.fullmatch(col.pg_type):
        return f"rpad({value}, {m.group(1)}, ' ')"
    return copy_text(col, value)


def plan_for(params: Params) -> Plan:
    """The plan written by step 02 into the run directory, or a fresh one when there is none; its
    losses accepted as this step's `accept_losses` says (a verification without the acceptance
    compares SQLite's values as they are)."""
    from . import record

    text = record.read(record.run_dir_for(params), "plan.json")
    plan = Plan.from_json(text) if text else step(params)
    plan.accept(params.accept_losses)
    return plan


def plan_frame(plan: Plan):
    """One row per column: SQLite declaration beside the Postgres one, and the conversion (an absent
    default is empty, not pandas' NaN)."""
    import pandas as pd

    return pd.DataFrame([
        {"table": t.target, "column": c.target, "sqlite": (c.declared_type or "(none)")
         + (f" collate {c.declared_collation.lower()}" if c.declared_collation else ""), "postgres": c.pg_type
         + (f' collate "{c.pg_collation}"' if c.pg_collation else "")
         + (" identity" if c.identity else "") + ("" if c.nullable else " not null"),
         "conversion": c.convert, "default": c.default or "", "notes": "; ".join(c.notes)}
        for t in plan.tables for c in t.columns
    ])


def side_by_side_html(plan: Plan) -> str:
    """Per table, the SQLite definition beside the Postgres DDL, then every conversion and loss."""
    from html import escape

    parts = []
    for t in plan.tables:
        ddl = [s.as_string(None) for s in plan.creates(t)[:-1]]  # not the COMMENT
        ddl += [s.as_string(None) for _, s in plan.keys_and_indexes(t) + plan.check_constraints(t)]
        ddl += [s.as_string(None) for name, s in plan.foreign_keys() if name in {fk.name for fk in t.foreign_keys}]
        if t.replace:
            ddl.insert(0, f"-- {plan.schema}.{t.target} exists in the target (created by an earlier run): dropped first")
        elif t.exists:
            ddl.insert(0, f"-- {plan.schema}.{t.target} exists in the target: no CREATE")
        notes = [f"{c.target}: {n}" for c in t.columns for n in c.notes] + t.notes
        notes += [f"{what}: {n} value(s)" for what, n in t.changed_values(plan.bad_text).items()]
        items = "".join(f"<li>{escape(n)}</li>" for n in notes) or "<li>no conversions or losses</li>"
        parts.append(
            f"<h4>{escape(t.source)} &rarr; {escape(plan.schema)}.{escape(t.target)} ({t.rows:,} rows)</h4>"
            "<table style='width:100%;table-layout:fixed'><tr><th style='text-align:left'>SQLite</th>"
            "<th style='text-align:left'>Postgres</th></tr><tr>"
            f"<td style='vertical-align:top;text-align:left'><pre style='white-space:pre-wrap'>{escape(t.source_sql)}</pre></td>"
            f"<td style='vertical-align:top;text-align:left'><pre style='white-space:pre-wrap'>{escape(';' + chr(10)).join(escape(d) for d in ddl)}</pre></td>"
            f"</tr></table><ul>{items}</ul>"
        )
    for v in plan.views:
        target = escape(v.sql) if v.sql else f"not migrated: {escape(v.reason)}"
        parts.append(f"<h4>view {escape(v.source)} &rarr; {escape(v.target)}</h4><table style='width:100%;table-layout:fixed'>"
                     f"<tr><td style='vertical-align:top;text-align:left'><pre style='white-space:pre-wrap'>{escape(v.source_sql)}</pre></td>"
                     f"<td style='vertical-align:top;text-align:left'><pre style='white-space:pre-wrap'>{target}</pre></td></tr></table>")
    return "\n".join(parts)


def losses_html(plan: Plan) -> str:
    """The listed losses as an HTML table: what, why, what to do instead, accepted or not."""
    from html import escape

    if not plan.losses:
        return "<p>Listed losses: none. Everything in the SQLite schema arrives as it is.</p>"
    rows = "".join(
        f"<tr><td><code>{escape(x.item)}</code></td><td>{escape(x.reason)}</td><td>{escape(x.instead)}</td>"
        f"<td>{'accepted' if x.accepted else '<b>not accepted</b>'}</td></tr>" for x in plan.losses)
    return ("<h4>Listed losses</h4><table><tr><th>item</th><th>why</th><th>instead</th><th>accept_losses</th></tr>"
            f"{rows}</table>")
