"""SQLite SQL fragments in PostgreSQL terms: CHECK constraints, DEFAULTs, partial-index WHERE clauses,
generated columns and whole views, over the target's table and column names.

    >>> names = Names(tables={"Mental Items": "mental_items"},
    ...               columns={"Mental Items": {"Resolved": "resolved", "Title": "title"}},
    ...               types={"mental_items": {"resolved": "boolean", "title": "text"}})
    >>> translate_expression("Resolved = 0", "Mental Items", names)
    '"resolved" = FALSE'
    >>> translate_view('CREATE VIEW open AS SELECT Title FROM [Mental Items] WHERE NOT resolved', names)
    'SELECT "title" FROM "mental_items" WHERE NOT "resolved"'
    >>> translate_expression("title GLOB 'a*'", "Mental Items", names) is None
    True

Whatever cannot be carried over with its meaning intact comes back as None, for the caller to report:
a constraint that allows other rows, or a view that returns other rows, is worse than none. Names the
schema does not know (aliases, CTEs) are folded to lower case the way SQLite compares them, ASCII
letters only, so every spelling of one name stays one name once it is quoted.

Views carry SQLite's semantics, not just its syntax (`view_translation` also says why a view is not
translated, and where): comparisons convert their operands by type affinity (`discontinued = 0` on a
TEXT column compares the text '0'; https://www.sqlite.org/datatype3.html section 4.2) and order text
by its bytes; LIKE folds ASCII letters only; `||` prints numbers as SQLite does; `+` reads text as the
number it starts with; integer division stays integer division; date and time functions read ISO text
and the plan's converted columns (given back as the text or number SQLite holds, `Names.origins`) the
way SQLite reads them; group_concat() concatenates in the order SQLite reads the rows. Where SQLite
could read a value another way than the translation does (a Julian day number given as text to date(),
a real printed in exponent form), the Postgres query stops with an error naming the value
("sqlite2neon: ..."), never returns other rows. A view reads the views translated before it
(`Names.add_view`, in `in_dependency_order`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope


@dataclass
class Origin:
    """How SQLite holds a column's values, where its Postgres type alone does not say it.

    `affinity`: the column's affinity by the rules of https://www.sqlite.org/datatype3.html section
    3.1 (`TEXT`, `NUMERIC`, `INTEGER`, `REAL`, `BLOB`), or None for a view's column computed by an
    expression, which has none (section 3.2); it decides how SQLite converts the other side of a
    comparison (section 4.2). `convert`: the plan's conversion of the values (config.CONVERSIONS).
    `text_form`: for a column converted from ISO text (`iso_text`), the `to_char` pattern that gives
    back, from the Postgres value in UTC, the very text SQLite holds (None when the rows hold more
    than one shape of text, so that no pattern does). `reals`: some of its values are reals (storage
    class REAL, section 2), so a number converted to a time was a double, not an integer.

        >>> Origin("NUMERIC", "iso_text", "YYYY-MM-DD HH24:MI:SS")
    """

    affinity: str | None = None
    convert: str = "none"
    text_form: str | None = None
    reals: bool = False


@dataclass
class ViewColumn:
    """One output column of a translated view: its Postgres name and type, and how SQLite holds it."""

    name: str
    pg_type: str | None
    origin: Origin


@dataclass
class Names:
    """How source names become target names, what type each target column has and, optionally,
    how SQLite holds each column (`origins`: without them comparisons that depend on SQLite's type
    affinity are refused) and which tables SQLite can only read in the order of an integer primary
    key (`scan_keys`: target table -> that column, for group_concat()'s order). Views translated
    before are added with `add_view`, so that a view can read a view."""

    tables: dict[str, str]  # source table name -> target table name
    columns: dict[str, dict[str, str]]  # source table -> {source column -> target column}
    types: dict[str, dict[str, str]]  # target table -> {target column -> postgres type}
    origins: dict[str, dict[str, Origin]] = field(default_factory=dict)  # target table -> {target column -> Origin}
    scan_keys: dict[str, str] = field(default_factory=dict)  # target table -> integer primary key column
    schema: str = ""  # when set, a view's tables and views are named in this schema, whatever the search_path

    def add_view(self, source: str, target: str, columns: list[ViewColumn]) -> None:
        """Make a translated view readable by the views translated after it.

            >>> names.add_view("Open Items", "open items", view_translation(sql, names).columns)
        """
        self.tables[source] = target
        self.columns[source] = {c.name: c.name for c in columns}
        self.types[target] = {c.name: c.pg_type for c in columns}
        self.origins[target] = {c.name: c.origin for c in columns}


def affinity_of(declared_type: str) -> str:
    """The affinity of a column declared with `declared_type`, by the rules of
    https://www.sqlite.org/datatype3.html section 3.1, in their order.

        >>> affinity_of("VARCHAR(40)"), affinity_of("DATETIME"), affinity_of("")
        ('TEXT', 'NUMERIC', 'BLOB')
    """
    d = declared_type.upper()
    if "INT" in d:
        return "INTEGER"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "TEXT"
    if "BLOB" in d or not d.strip():
        return "BLOB"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "REAL"
    return "NUMERIC"


def translate_expression(sql: str, table: str, names: Names) -> str | None:
    """A SQLite scalar expression over columns of source table `table`, as Postgres SQL over the
    target names; None when it cannot be translated faithfully.

        >>> translate_expression("ifnull(Title, '') || '!'", "Mental Items", names)
        'COALESCE("title", \'\') || \'!\''
    """
    try:
        holder = _parse_expression(sql)
        _prepare(holder)
        _require_supported(holder.expressions[0], _EXPRESSION_NODES)
        columns = _Catalog(names).columns_of(table)
        for col in list(holder.find_all(exp.Column)):
            _bind_table_column(col, table, columns)
        return _to_postgres(holder.expressions[0])
    except (_Untranslatable, SqlglotError):
        return None


def translate_view(create_sql: str, names: Names) -> str | None:
    """The SELECT of a `CREATE VIEW ... AS SELECT ...` statement as Postgres SQL over the target
    names; None when it cannot be translated faithfully (`view_translation` says why).

        >>> translate_view("CREATE VIEW v AS SELECT Resolved, count(*) AS N FROM [Mental Items] GROUP BY 1", names)
        'SELECT "resolved", COUNT(*) AS "n" FROM "mental_items" GROUP BY 1'
    """
    return view_translation(create_sql, names).sql


@dataclass
class ViewTranslation:
    """A view in Postgres terms: `sql` (its SELECT, or None), `reason` (why not: the construct and
    where, e.g. "uses printf(), which is not translated, in column 3 (label)"; empty when translated)
    and `columns` (its output columns, for the views that read it and for verification)."""

    sql: str | None
    reason: str = ""
    columns: list[ViewColumn] = field(default_factory=list)


def view_translation(create_sql: str, names: Names) -> ViewTranslation:
    """`translate_view` with its reason and output columns. Never raises: a view that cannot keep
    its meaning, or that does not parse, comes back with `sql` None and the reason.

        >>> t = view_translation("CREATE VIEW v AS SELECT id, printf('%d', price) AS label FROM [Mental Items]", names)
        >>> t.sql, t.reason
        (None, 'uses printf(), which is not translated, in column 2 (label)')
    """
    try:
        query = _parse_view(create_sql)
        _name_unnamed_outputs(query)
        _prepare(query, view=True)
        _require_supported(query, _QUERY_NODES)
        _fold_identifiers(query)
        resolver = _Resolver(_Catalog(names))
        resolver.resolve(query)
        sql = _to_postgres(query)
        columns = [ViewColumn(c.target, c.pg_type, c.origin or Origin()) for c in resolver.outputs[id(query)]]
        return ViewTranslation(sql, "", columns)
    except _Untranslatable as exc:
        return ViewTranslation(None, exc.reason())
    except SqlglotError as exc:
        return ViewTranslation(None, f"SQL that sqlglot cannot read as SQLite ({str(exc).splitlines()[0][:120]})")


def view_reads(create_sql: str) -> list[str]:
    """The tables and views a `CREATE VIEW` statement reads (their SQLite spelling, each once, CTE
    names left out); empty when it does not parse.

        >>> view_reads("CREATE VIEW b AS WITH m AS (SELECT * FROM orders) SELECT * FROM m JOIN monthly USING (id)")
        ['monthly', 'orders']
    """
    try:
        statements = sqlglot.parse(create_sql, read="sqlite")
    except SqlglotError:
        return []
    if len(statements) != 1 or not isinstance(statements[0], exp.Create) or statements[0].expression is None:
        return []
    query = statements[0].expression
    ctes = {_fold(cte.alias) for cte in query.find_all(exp.CTE)}
    out: list[str] = []
    for table in query.find_all(exp.Table):
        if table.name and _fold(table.name) not in ctes and table.name not in out:
            out.append(table.name)
    return out


def in_dependency_order(views: list[dict[str, str]]) -> list[tuple[dict[str, str], list[str]]]:
    """The views (`{"name", "sql"}`, as the source profile lists them) each after the views it reads,
    with the names of those views: SQLite keeps views in the order they were created, and a view may
    be created before a view it reads (it is resolved when queried). Views that read each other come
    in source order, the first one read before it is planned.

        >>> [(v["name"], reads) for v, reads in in_dependency_order(profile.views)]
        [('monthly', []), ('big_months', ['monthly'])]
    """
    by_key = {_fold(v["name"]): v for v in views}
    reads = {key: [by_key[_fold(r)]["name"] for r in view_reads(v["sql"] or "")
                   if _fold(r) in by_key and _fold(r) != key] for key, v in by_key.items()}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in visiting:
            return
        visiting.add(key)
        for name in reads[key]:
            visit(_fold(name))
        order.append(key)

    for view in views:
        visit(_fold(view["name"]))
    return [(by_key[key], reads[key]) for key in order]


class _Untranslatable(Exception):
    """Raised inside this module when a fragment cannot keep its meaning in Postgres; `node` is where
    (set where it is raised, or by `_rewrite` for the node whose rule refused)."""

    def __init__(self, message: str, node: exp.Expression | None = None):
        super().__init__(message)
        self.node = node

    def reason(self) -> str:
        where = _where(self.node) if self.node is not None else ""
        return f"{self.args[0]}, in {where}" if where else str(self.args[0])


# --- parsing -----------------------------------------------------------------------------------

def _parse_expression(sql: str) -> exp.Select:
    """`SELECT <sql>`, parsed: the wrapper gives SQLite's function names (replace, ...) their
    expression meaning, and lets the check below refuse anything that is more than one expression."""
    statements = sqlglot.parse(f"SELECT {sql}", read="sqlite")
    holder = statements[0] if len(statements) == 1 else None
    if not isinstance(holder, exp.Select) or len(holder.expressions) != 1:
        raise _Untranslatable("not a single expression")
    if any(value for key, value in holder.args.items() if key != "expressions"):
        raise _Untranslatable("not a single expression")
    if isinstance(holder.expressions[0], exp.Alias):
        raise _Untranslatable("not a single expression")
    return holder


def _parse_view(create_sql: str) -> exp.Query:
    statements = sqlglot.parse(create_sql, read="sqlite")
    create = statements[0] if len(statements) == 1 else None
    if not isinstance(create, exp.Create) or create.kind != "VIEW":
        raise _Untranslatable("not a CREATE VIEW statement")
    if not isinstance(create.this, exp.Table):
        raise _Untranslatable("view with a column list")  # the names would be lost with the CREATE
    if not isinstance(create.expression, exp.Query):
        raise _Untranslatable("view without a query")
    return create.expression


_EXPRESSION_NODES = frozenset({
    exp.Column, exp.Identifier, exp.Literal, exp.Null, exp.Boolean, exp.Paren,
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is, exp.In, exp.Between, exp.Like, exp.Escape,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.DPipe,
    exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Cast, exp.DataType, exp.DataTypeParam,
    exp.Abs, exp.Round, exp.Length, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.StrPosition,
    exp.Replace, exp.CurrentTimestamp, exp.CurrentDate, exp.Date, exp.TimeToStr,
    exp.TsOrDsToTimestamp, exp.Anonymous,
})
_QUERY_NODES = _EXPRESSION_NODES | frozenset({
    exp.Select, exp.From, exp.Join, exp.Table, exp.TableAlias, exp.Subquery, exp.With, exp.CTE,
    exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Distinct,
    exp.Union, exp.Except, exp.Intersect, exp.Star, exp.Alias, exp.Exists,
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.GroupConcat,
})


_CONSTRUCTS = {
    exp.Window: "a window function (OVER)", exp.Glob: "GLOB", exp.RegexpLike: "REGEXP", exp.Collate: "COLLATE",
    exp.Column: "a column", exp.Values: "VALUES", exp.Lateral: "LATERAL", exp.Dot: "a dotted name",
}


def _require_supported(node: exp.Expression, allowed: frozenset) -> None:
    """Refuse any construct this module does not know the Postgres meaning of (windows, GLOB, ...)."""
    for part in node.walk():
        if type(part) not in allowed:
            what = f"{part.sql_name().lower()}()" if isinstance(part, exp.Func) else _CONSTRUCTS.get(
                type(part), type(part).__name__)
            raise _Untranslatable(f"uses {what}, which is not translated", part)
    for w in node.find_all(exp.With):
        if w.args.get("recursive"):
            raise _Untranslatable("uses WITH RECURSIVE, which is not translated", w)


def _name_unnamed_outputs(query: exp.Query) -> None:
    """An alias for each output that is neither a column nor named: Postgres would call them all
    "?column?" and refuse the view; SQLite names them after their text, and so does this."""
    for output in list(_first_select(query).expressions):
        if not isinstance(output, (exp.Column, exp.Alias, exp.Star)):
            output.replace(exp.alias_(output.copy(), output.sql(dialect="sqlite"), quoted=True))


def _where(node: exp.Expression) -> str:
    """Where `node` sits in a view, in words: "column 3 (label)", "WHERE", "a JOIN", ..., then
    "of CTE m" or "of a subquery" when that is not the view's own SELECT.

        >>> _where(parse_one("SELECT a, printf('%d', b) AS p FROM t").expressions[1].this)
        'column 2 (p)'
    """
    clauses = {"where": "WHERE", "group": "GROUP BY", "having": "HAVING", "order": "ORDER BY", "joins": "a JOIN",
               "from_": "FROM", "limit": "LIMIT", "offset": "OFFSET", "distinct": "DISTINCT", "with_": "WITH"}
    child, parent, place = node, node.parent, ""
    while parent is not None:
        if isinstance(parent, (exp.Select, exp.SetOperation)):
            if not place:
                if child.arg_key == "expressions" and isinstance(parent, exp.Select):
                    alias = child.args.get("alias") if isinstance(child, exp.Alias) else None
                    name = alias.meta.get("source", alias.name) if alias else child.alias_or_name
                    place = f"column {child.index + 1}" + (f" ({name})" if name else "")
                elif child.arg_key in clauses:
                    place = clauses[child.arg_key]
        if isinstance(parent, exp.CTE) and place:
            return f"{place} of CTE {parent.alias}"
        if isinstance(parent, exp.Subquery) and place:
            return f"{place} of a subquery"
        child, parent = parent, parent.parent
    return place


# --- before binding: one shape for SQLite's date functions, constants computed by SQLite ----------

_DATE_FUNCTIONS = ("date", "time", "datetime", "julianday", "strftime", "unixepoch")


def _prepare(tree: exp.Expression, view: bool = False) -> None:
    """Before binding: SQLite's date and time functions as one node kind (`Anonymous`; sqlglot
    parses strftime() and date() differently by their number of arguments); each CAST marked with
    the affinity of its type (https://www.sqlite.org/datatype3.html section 3.2); a date or time
    function of constants replaced by the value SQLite computes for it (not 'now', 'localtime' or
    'utc', which depend on the moment or the machine); in a view, real literals typed double
    precision, as SQLite holds them (Postgres would read 0.1 as an exact numeric)."""
    for node in list(tree.find_all(exp.TimeToStr, exp.Date)):
        if isinstance(node, exp.TimeToStr):
            value = node.this.this if isinstance(node.this, exp.TsOrDsToTimestamp) else node.this
            args = [node.args["format"], value]
            name = "strftime"
        else:
            args, name = list(node.iter_expressions()), "date"
        node.replace(exp.Anonymous(this=name, expressions=[a.pop() if a.parent else a for a in args]))
    for cast in tree.find_all(exp.Cast):
        cast.meta["affinity"] = affinity_of(cast.to.sql(dialect="sqlite"))
    for call in list(tree.find_all(exp.Anonymous)):
        if call.name.lower() in _DATE_FUNCTIONS and _constant_call(call):
            call.replace(_constant(_sqlite_stores(call.sql(dialect="sqlite"), "BLOB")))  # BLOB: kept as it is
        elif view:
            call.meta["view"] = True  # a date function of a column: in a view only (_rule_anonymous)
    if view:
        for literal in list(tree.find_all(exp.Literal)):
            if not literal.is_string and not literal.is_int and "literal" not in literal.parent.meta:
                literal.replace(_double(literal.this))


def _constant_call(call: exp.Anonymous) -> bool:
    """Whether a date function's value is a constant: literal arguments, not 'now' (the moment) nor
    the 'localtime' and 'utc' modifiers (the machine's time zone)."""
    args = call.expressions
    first = 1 if call.name.lower() == "strftime" else 0  # the time value, after strftime's format
    if len(args) <= first:
        return False  # no time value: now
    for i, arg in enumerate(args):
        value = arg.this if isinstance(arg, exp.Neg) else arg
        if not isinstance(value, exp.Literal) or (isinstance(arg, exp.Neg) and value.is_string):
            return False
        word = value.this.strip().lower() if value.is_string else ""
        if (i == first and word == "now") or (i > first and word in ("localtime", "utc")):
            return False
    return True


def _constant(value) -> exp.Expression:
    """A value SQLite returned, as a literal of the same storage class."""
    if value is None:
        return exp.Null()
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return _double(repr(value))
    raise _Untranslatable("a constant that is a BLOB")


def _double(literal: str) -> exp.Cast:
    """A real literal as SQLite holds it, a double (Postgres reads 0.1 as an exact numeric); `literal`
    is kept for the text SQLite prints of it (`_text_operand`)."""
    double = _cast(exp.Literal.number(literal), "double precision")
    double.meta["literal"] = literal
    return double


# --- names ---------------------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(name: str) -> str:
    """A name as SQLite compares it: ASCII letters without regard to case, all others exactly.

        >>> _fold("Größe")
        'größe'
    """
    return name.translate(_ASCII_LOWER)


def _fold_identifiers(query: exp.Query) -> None:
    """Every name folded, so that sqlglot's scopes match a CTE or alias the way SQLite does; what
    the schema names is renamed to its target afterwards."""
    for ident in query.find_all(exp.Identifier):
        ident.meta["source"] = ident.this
        ident.set("this", _fold(ident.this))


@dataclass
class _Column:
    """A column a source offers: its folded SQLite name, its Postgres name and type (updated once the
    query that computes it is rewritten), and how SQLite holds it (None: not known)."""

    name: str | None
    target: str | None
    pg_type: str | None
    origin: Origin | None = None


class _Catalog:
    """`Names`, looked up the way SQLite looks names up."""

    def __init__(self, names: Names):
        self.tables = {_fold(source): target for source, target in names.tables.items()}
        self.columns: dict[str, list[_Column]] = {}
        self.scan_keys = dict(names.scan_keys)
        self.schema = names.schema
        for source, columns in names.columns.items():
            target = names.tables.get(source, "")
            types, origins = names.types.get(target, {}), names.origins.get(target, {})
            self.columns[_fold(source)] = [_Column(_fold(s), t, types.get(t), origins.get(t)) for s, t in columns.items()]

    def target_of(self, table: str) -> str:
        if _fold(table) not in self.tables:
            raise _Untranslatable(f"reads {table}, which is neither a migrated table nor a view created before it")
        return self.tables[_fold(table)]

    def columns_of(self, table: str) -> list[_Column]:
        self.target_of(table)
        if _fold(table) not in self.columns:
            raise _Untranslatable(f"columns of {table} unknown")
        return self.columns[_fold(table)]


def _find(columns: list[_Column], name: str) -> _Column | None:
    return next((c for c in columns if c.name == _fold(name)), None)


def _bind(col: exp.Column, column: _Column) -> list[tuple[exp.Expression, exp.Expression | None]]:
    col.meta["column"] = column  # its type as the query that computes it is rewritten (_kind)
    col.meta["pg_type"] = column.pg_type
    col.meta["visible"] = column.name
    col.meta["target"] = column.target
    return [(col.this, exp.to_identifier(column.target))]


def _as_string(col: exp.Column) -> exp.Literal:
    """SQLite reads a double-quoted name that matches no column as a string ("open" = 'open')."""
    if not col.this.quoted or col.table:
        raise _Untranslatable(f"unknown column {col.name}")
    return exp.Literal.string(col.this.meta.get("source", col.name))


def _bind_table_column(col: exp.Column, table: str, columns: list[_Column]) -> None:
    if col.args.get("db") or (col.table and _fold(col.table) != _fold(table)):
        raise _Untranslatable(f"column {col.sql()} of another table")
    column = _find(columns, col.name)
    if column is None:
        col.replace(_as_string(col))
        return
    if col.args.get("table"):
        col.args["table"].pop()  # a constraint's columns are its own table's
    _apply(_bind(col, column))


def _apply(renames: list[tuple[exp.Expression, exp.Expression | None]]) -> None:
    for old, new in renames:
        if new is None:
            old.pop()
        else:
            old.replace(new)


@dataclass
class _Source:
    """A table, CTE or subquery a SELECT reads, under the name its columns are qualified with."""

    columns: list[_Column] | None  # a table's; None for a CTE or subquery, whose are in outputs
    qualifier: str | None  # the target table's name, for a table read without an alias
    query: exp.Expression | None = None  # the CTE's or subquery's query


class _Resolver:
    """Binds each table and column of a view to its target name, scope by scope (inner first), and
    remembers what each inner query yields so that outer queries can read its columns."""

    def __init__(self, catalog: _Catalog):
        self.catalog = catalog
        self.outputs: dict[int, list[_Column]] = {}  # id(query) -> its output columns
        self.sources: dict[int, dict[str, _Source]] = {}  # id(scope) -> folded name -> source
        self.renames: list[tuple[exp.Expression, exp.Expression | None]] = []
        self.tables: list[exp.Table] = []  # qualified with the catalog's schema once renamed

    def resolve(self, query: exp.Query) -> None:
        """Rename in place; raise _Untranslatable for an unknown table or an unresolvable column."""
        scopes = traverse_scope(query)
        for scope in scopes:
            self.sources_of(scope)  # read every FROM before any table is renamed
        done: set[int] = set()
        for scope in scopes:
            for col in _columns_of(scope):
                if id(col) not in done:  # an outer scope lists its subqueries' columns again
                    try:
                        self.resolve_column(col, scope)
                    except _Untranslatable as exc:
                        exc.node = exc.node or col
                        raise
                    done.add(id(col))
            if isinstance(scope.expression, exp.Select):
                self.resolve_stars_and_using(scope)
            self.outputs[id(scope.expression)] = self.outputs_of(scope)
        targets = [c.target for c in self.outputs[id(query)]]
        if len(set(targets)) != len(targets):
            raise _Untranslatable("the view would have two columns of one name")  # Postgres refuses it
        _apply(self.renames)
        for table in self.tables if self.catalog.schema else []:
            table.set("db", exp.to_identifier(self.catalog.schema))
        for col in query.find_all(exp.Column):
            if not isinstance(col.this, exp.Star) and "pg_type" not in col.meta:
                raise _Untranslatable(f"column {col.sql()} not resolved")

    def sources_of(self, scope: Scope) -> dict[str, _Source]:
        if id(scope) not in self.sources:
            sources = {}
            for name, (_, source) in scope.selected_sources.items():
                if isinstance(source, exp.Table):
                    try:
                        sources[_fold(name)] = self.table_source(source)
                    except _Untranslatable as exc:
                        exc.node = exc.node or source
                        raise
                else:
                    sources[_fold(name)] = _Source(None, None, source.expression)
            self.sources[id(scope)] = sources
        return self.sources[id(scope)]

    def columns(self, source: _Source) -> list[_Column]:
        return source.columns if source.query is None else self.outputs[id(source.query)]

    def table_source(self, table: exp.Table) -> _Source:
        if table.args.get("catalog") or _fold(table.db or "main") != "main":
            raise _Untranslatable(f"table {table.sql()} of another database")
        target = self.catalog.target_of(table.name)
        table.meta["scan_key"] = self.catalog.scan_keys.get(target)  # group_concat()'s order (_scan_order)
        self.tables.append(table)
        self.renames.append((table.this, exp.to_identifier(target)))
        if table.args.get("db"):
            self.renames.append((table.args["db"], None))
        return _Source(self.catalog.columns_of(table.name), None if table.alias else target)

    def lookup(self, scope: Scope, name: str, qualifier: str | None) -> tuple[_Column, _Source] | None:
        sources = self.sources_of(scope)
        if qualifier:
            if qualifier not in sources:
                return None
            column = _find(self.columns(sources[qualifier]), name)
            if column is None:
                raise _Untranslatable(f"unknown column {qualifier}.{name}")
            return column, sources[qualifier]
        found = [(c, s) for s in sources.values() if (c := _find(self.columns(s), name))]
        if len({c.target for c, _ in found}) > 1:
            raise _Untranslatable(f"ambiguous column {name}")
        return found[0] if found else None

    def resolve_column(self, col: exp.Column, scope: Scope) -> None:
        if col.args.get("catalog") or _fold(col.args["db"].name if col.args.get("db") else "main") != "main":
            raise _Untranslatable(f"column {col.sql()} of another database")
        if col.args.get("db"):
            self.renames.append((col.args["db"], None))
        name = _fold(col.name)
        qualifier = _fold(col.table) if col.table else None
        aliases = _output_aliases(scope.expression)
        # ORDER BY reads output names first, in SQLite and in Postgres alike.
        if not qualifier and isinstance(col.parent, exp.Ordered) and name in aliases:
            col.meta["pg_type"] = _kind(aliases[name])
            return
        if isinstance(scope.expression, exp.SetOperation):
            column = None if qualifier else _find(self.outputs[id(_first_select(scope.expression))], name)
            if column is None:
                raise _Untranslatable(f"ORDER BY {col.sql()} of a compound SELECT")
            self.renames += _bind(col, column)
            return
        outer = scope
        while outer is not None:
            found = self.lookup(outer, col.name, qualifier)
            if found:
                column, source = found
                self.renames += _bind(col, column)
                if qualifier and source.qualifier:
                    self.renames.append((col.args["table"], exp.to_identifier(source.qualifier)))
                return
            outer = outer.parent
        if not qualifier and isinstance(col.parent, exp.Group) and name in aliases:
            col.meta["pg_type"] = _kind(aliases[name])
            return
        if name in aliases:
            raise _Untranslatable(f"output name {col.name} used outside ORDER BY / GROUP BY")  # Postgres refuses it
        if any(c.name is None for s in self.sources_of(scope).values() for c in self.columns(s)):
            raise _Untranslatable(f"unknown column {col.name}")  # it may name an unnamed output
        self.renames.append((col, _as_string(col)))

    def resolve_stars_and_using(self, scope: Scope) -> None:
        sources = self.sources_of(scope)
        for star in scope.stars:
            if isinstance(star, exp.Column) and star.table:
                source = sources.get(_fold(star.table))
                if source is None:
                    raise _Untranslatable(f"unknown table {star.table}")
                if source.qualifier:
                    self.renames.append((star.args["table"], exp.to_identifier(source.qualifier)))
        for join in scope.expression.args.get("joins") or []:
            for ident in join.args.get("using") or []:
                right = sources.get(_fold(join.this.alias_or_name))
                column = right and _find(self.columns(right), ident.name)
                if column is None:
                    raise _Untranslatable(f"USING column {ident.name} not found")
                self.renames.append((ident, exp.to_identifier(column.target)))

    def outputs_of(self, scope: Scope) -> list[_Column]:
        query = scope.expression
        if isinstance(query, exp.SetOperation):
            return self.outputs[id(_first_select(query))]
        sources = self.sources_of(scope)
        out: list[_Column] = []
        computed: list[exp.Expression | None] = []  # per output, the expression whose type it has
        for output in query.expressions:
            if isinstance(output, exp.Star) or (isinstance(output, exp.Column) and isinstance(output.this, exp.Star)):
                expanded = (self.columns(sources[_fold(output.table)]) if isinstance(output, exp.Column)
                            else [c for s in sources.values() for c in self.columns(s)])
                out += expanded
                computed += [None] * len(expanded)
            elif isinstance(output, exp.Alias):
                out.append(_Column(_fold(output.alias), _fold(output.alias), _kind(output.this), _origin(output.this)))
                computed.append(output)
            elif isinstance(output, exp.Column) and "visible" in output.meta:
                out.append(_Column(output.meta["visible"], output.meta["target"], output.meta["pg_type"],
                                   _origin(output)))
                computed.append(output)
            else:
                out.append(_Column(None, None, _kind(output), Origin()))
                computed.append(output)
        cte = query.parent if isinstance(query.parent, exp.CTE) else None
        names = cte.args["alias"].columns if cte and cte.args.get("alias") else []
        if names:
            if len(names) != len(out):
                raise _Untranslatable("CTE column list does not match its query")
            out = [_Column(_fold(n.name), _fold(n.name), c.pg_type, c.origin) for n, c in zip(names, out)]
        # Once the query is rewritten, its outputs take the types the rewrite gave them (_rewrite).
        query.meta["outputs"] = [(e, c) for e, c in zip(computed, out) if e is not None]
        return out


def _columns_of(scope: Scope) -> list[exp.Column]:
    """The scope's columns, those naming an output in ORDER BY / GROUP BY included (sqlglot leaves
    them out), and those last: their type is the type of the output, once that is bound."""
    query = scope.expression
    keys = [o.this for o in query.args["order"].expressions] if query.args.get("order") else []
    if query.args.get("group"):
        keys += query.args["group"].expressions
    listed = {id(c) for c in scope.columns}
    extra = [k for k in keys if isinstance(k, exp.Column) and id(k) not in listed]
    return sorted(scope.columns, key=lambda c: c.find_ancestor(exp.Order, exp.Group) is not None) + extra


def _first_select(query: exp.Expression) -> exp.Expression:
    while isinstance(query, exp.SetOperation):
        query = query.this
    return query


def _output_aliases(query: exp.Expression) -> dict[str, exp.Expression]:
    first = _first_select(query)
    if not isinstance(first, exp.Select):
        return {}
    return {_fold(o.alias): o.this for o in first.expressions if isinstance(o, exp.Alias)}


# --- types, as far as a translation needs them ----------------------------------------------------

_INTEGER_TYPES = {"bigint", "integer", "smallint", "int", "int8", "int4", "int2"}
_NUMBER_TYPES = _INTEGER_TYPES | {"numeric", "double precision", "real", "float8", "float4", "decimal"}
_TEXT_TYPES = {"text", "character varying", "varchar", "character", "char"}
_CLOCK = "clock"  # now() and CURRENT_DATE: comparable with nothing (see _comparable)


def _family(pg_type: str) -> str:
    pg_type = pg_type.split("(")[0].strip()  # numeric(10,2) is a number, varchar(40) text
    if pg_type in _NUMBER_TYPES:
        return "number"
    if pg_type in _TEXT_TYPES:
        return "text"
    return pg_type


def _kind(node: exp.Expression) -> str | None:
    """The Postgres type `node` yields, or None when it is NULL or not known here.

        >>> _kind(exp.Literal.string("x"))
        'text'
    """
    if "kind" in node.meta:  # SQL this module wrote (_pg)
        return node.meta["kind"]
    if isinstance(node, (exp.Paren, exp.Collate)):
        return _kind(node.this)
    if isinstance(node, exp.Column):
        column = node.meta.get("column")
        return column.pg_type if column is not None else node.meta.get("pg_type")
    if isinstance(node, exp.Literal):
        return "text" if node.is_string else "bigint" if node.is_int else "numeric"
    if isinstance(node, (exp.Predicate, exp.Boolean, exp.Connector, exp.Not, exp.Escape)):
        return "boolean"
    if isinstance(node, exp.Cast):
        return node.to.sql(dialect="postgres").lower()
    if isinstance(node, (exp.DPipe, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Replace, exp.GroupConcat)):
        return "text"
    if isinstance(node, (exp.Length, exp.StrPosition, exp.Count)):
        return "bigint"
    if isinstance(node, (exp.Avg, exp.Round)):
        return "numeric"
    if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDate)):
        return _CLOCK
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
        return _arithmetic_kind(_kind(node.this), _kind(node.expression))
    if isinstance(node, (exp.Abs, exp.Neg, exp.Sum, exp.Min, exp.Max, exp.Nullif)):
        return _kind(node.this)
    if isinstance(node, exp.Coalesce):
        return _first_known([node.this, *node.expressions])
    if isinstance(node, exp.If):
        return _first_known([node.args.get("true"), node.args.get("false")])
    if isinstance(node, exp.Case):
        return _first_known([i.args.get("true") for i in node.args["ifs"]] + [node.args.get("default")])
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
        return _kind(node.this.expressions[0])
    return None


def _first_known(nodes: list[exp.Expression | None]) -> str | None:
    return next((k for n in nodes if n is not None and (k := _kind(n))), None)


def _arithmetic_kind(left: str | None, right: str | None) -> str | None:
    if left is None or right is None:
        return None
    kinds = {"bigint" if k in _INTEGER_TYPES or k == "boolean" else k for k in (left, right)}
    if kinds == {"bigint"}:
        return "bigint"
    return "double precision" if "double precision" in kinds else "numeric"


def _comparable(left: str | None, right: str | None) -> bool:
    """Whether Postgres compares the two as SQLite compared what they were. Converted columns compare
    only with their own kind: a timestamptz was an epoch or ISO text, a jsonb was text."""
    if left is None or right is None:
        return True
    family = _family(left)
    if family != _family(right) or family in ("jsonb", _CLOCK):
        return False
    return True


def _require_comparable(*nodes: exp.Expression) -> None:
    kinds = [_kind(n) for n in nodes if n is not None]
    for kind in kinds[1:]:
        if not _comparable(kinds[0], kind):
            raise _Untranslatable(f"compares {kinds[0]} with {kind}")


def _cast(node: exp.Expression, pg_type: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(pg_type, dialect="postgres"))


def _is_01(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this in ("0", "1")


def _text_operand(node: exp.Expression) -> exp.Expression:
    """`node` where SQLite reads text, as the text SQLite makes of it: an integer's digits; a real
    with 15 significant digits (`_real_text`); a decimal column's value as the integer or real SQLite
    holds (NUMERIC affinity keeps a whole number as an integer: https://www.sqlite.org/datatype3.html
    section 3). Other values (a computed decimal, a converted column without its text) are refused."""
    kind = _kind(node)
    if isinstance(node, exp.Null) or (kind and _family(kind) == "text"):
        return node
    if kind in _INTEGER_TYPES or kind == "boolean":
        return _cast(_cast(node, "integer") if kind == "boolean" else node, "text")
    if kind in ("double precision", "real", "float8", "float4"):
        if "literal" in node.meta:  # a real literal: SQLite's own text of it
            return exp.Literal.string(_sqlite_stores(node.meta["literal"], "TEXT"))
        return _real_text(node)
    if kind and _family(kind) == "number" and _decimal_column(node):
        return _pg("CASE WHEN __v__ = TRUNC(__v__) THEN CAST(TRUNC(__v__) AS TEXT) ELSE __r__ END", "text",
                   v=node, r=_real_text(_cast(node.copy(), "double precision")))
    raise _Untranslatable(f"reads {kind or 'a value of unknown type'} as text")


def _number_operand(node: exp.Expression) -> exp.Expression:
    """`node` where SQLite computes with a number: text becomes the number its leading characters
    spell (`_text_number`); a converted column (a time, JSON) is refused."""
    kind = _kind(node)
    if isinstance(node, exp.Literal) and node.is_string:  # SQLite itself says which number the text is
        return _constant(_sqlite_stores(f"{_pg_string(node.this)} + 0", "BLOB"))
    if kind is not None and _family(kind) == "text":
        return _text_number(node)
    if kind is not None and _family(kind) != "number":
        raise _Untranslatable(f"reads {kind} as a number")
    return node


# --- the rewrite, node by node, children first ----------------------------------------------------

def _to_postgres(node: exp.Expression) -> str:
    return _rewrite(node).sql(dialect="postgres", identify=True, comments=False)


_FIRST = {"with_": 0, "from_": 1, "joins": 2}  # what a SELECT reads is rewritten before what it computes


def _rewrite(node: exp.Expression) -> exp.Expression:
    """`node` in Postgres terms. A boolean where Postgres wants a value is read as the 0/1 SQLite
    stored (`sum(resolved)`); a converted column where SQLite computes with it is read as the value
    SQLite holds (`_stored_value`); the rules below handle the rest. A query's outputs take the
    types their rewritten expressions have, for the queries that read them."""
    boolean_place = _takes_boolean(node)
    for child in sorted(node.iter_expressions(), key=lambda c: _FIRST.get(c.arg_key, 3)):
        key, index = child.arg_key, child.index
        new = _rewrite(child)
        if new is not child:
            node.set(key, new, index)
    try:
        if isinstance(node, exp.Column) and _holds_other_value(node):
            new = _stored_value(node)
        else:
            rule = _RULES.get(type(node))
            new = rule(node) if rule else node
    except _Untranslatable as exc:
        exc.node = exc.node or node
        raise
    if new is not node and "affinity" in node.meta and "affinity" not in new.meta:
        new.meta["affinity"] = node.meta["affinity"]  # CAST(x AS TEXT) rewritten is still a CAST to TEXT
    if _kind(new) == "boolean" and not boolean_place:
        new = _cast(new, "integer")
    for output, column in node.meta.get("outputs", ()):
        column.pg_type = _kind(output.this if isinstance(output, exp.Alias) else output)
    return new


_BOOLEAN_PLACES = (
    exp.And, exp.Or, exp.Not, exp.Where, exp.Having, exp.Join, exp.EQ, exp.NEQ, exp.NullSafeEQ,
    exp.NullSafeNEQ, exp.In, exp.Is, exp.Alias, exp.Select, exp.Ordered, exp.Group, exp.Count,
    exp.Distinct, exp.Subquery, exp.Exists, exp.Escape,
)


def _takes_boolean(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if parent is None:
        return True
    if isinstance(parent, exp.If):
        # The condition of a searched CASE / iif(); in `CASE x WHEN ...` it is a value.
        return node.arg_key == "this" and not (isinstance(parent.parent, exp.Case) and parent.parent.this)
    return isinstance(parent, _BOOLEAN_PLACES)


def _condition(node: exp.Expression | None) -> None:
    """Postgres wants a boolean where SQLite took any value as true or false."""
    if node is not None and _kind(node) != "boolean":
        raise _Untranslatable(f"{node.sql()} used as a condition")


def _rule_comparison(node: exp.Binary) -> exp.Expression:
    """=, <>, <, ... as SQLite compares: a boolean with 0 or 1 as the boolean, the operands converted
    by their affinities (`_with_affinity`), text ordered by its bytes (SQLite's BINARY collation,
    https://www.sqlite.org/datatype3.html section 7; COLLATE "C" in Postgres, whatever the database's)."""
    left, right = node.this, node.expression
    if _kind(left) == "boolean" and _is_01(right):
        right = exp.Boolean(this=right.this == "1")
    elif _kind(right) == "boolean" and _is_01(left):
        left = exp.Boolean(this=left.this == "1")
    left, right = _boolean_as_number(left, right), _boolean_as_number(right, left)
    left, right = _with_affinity(left, right)
    _require_comparable(left, right)
    if isinstance(node, (exp.GT, exp.GTE, exp.LT, exp.LTE)) and _texts(left, right):
        left = _in_bytes(left)
    node.set("this", left)
    node.set("expression", right)
    return node


def _boolean_as_number(side: exp.Expression, other: exp.Expression) -> exp.Expression:
    """A boolean compared with a number: the 0/1 SQLite stored (`resolved = priority`)."""
    other_kind = _kind(other)
    if _kind(side) == "boolean" and other_kind and _family(other_kind) == "number":
        return _cast(side, "integer")
    return side


def _rule_between(node: exp.Between) -> exp.Expression:
    """`x BETWEEN a AND b` is `x >= a AND x <= b` in SQLite, each with its own affinity conversion
    (https://www.sqlite.org/datatype3.html section 4.2)."""
    value = node.this
    kept_low, low = _with_affinity(value, node.args["low"])
    kept_high, high = _with_affinity(value, node.args["high"])
    if kept_low is not value or kept_high is not value:
        raise _Untranslatable("uses BETWEEN on a value SQLite converts by the affinity of its bounds")
    _require_comparable(value, low, high)
    node.set("low", low)
    node.set("high", high)
    if _texts(value, low, high):
        node.set("this", _in_bytes(value))
    return node


def _rule_in(node: exp.In) -> exp.Expression:
    if node.args.get("query") is not None:
        _require_comparable(node.this, node.args["query"])
        if _kind(node.this) == "boolean" and _kind(node.args["query"]) not in ("boolean", None):
            raise _Untranslatable("boolean IN a subquery of numbers")
        return node
    values = node.expressions
    if not values:
        raise _Untranslatable("IN with no list")
    # The list's values have no affinity; the left side's is applied to them (datatype3.html section 4.2).
    affinity = _affinity(node.this)
    if affinity in _NUMERIC_AFFINITIES:
        node.set("expressions", values := [_as_number(v) for v in values])
    elif affinity == "TEXT":
        node.set("expressions", values := [_as_text(v) for v in values])
    if _kind(node.this) == "boolean":
        if all(_is_01(v) for v in values):
            node.set("expressions", [exp.Boolean(this=v.this == "1") for v in values])
        else:
            node.set("this", _cast(node.this, "integer"))
    _require_comparable(node.this, *node.expressions)
    return node


def _rule_is(node: exp.Is) -> exp.Expression:
    # `x IS NULL` means the same; SQLite's `x IS TRUE` is true for any non-zero value.
    if not isinstance(node.expression, exp.Null) and _kind(node.this) != "boolean":
        raise _Untranslatable("IS TRUE / IS FALSE on a non-boolean")
    return node


def _rule_like(node: exp.Like) -> exp.Expression:
    """SQLite's LIKE ignores the case of ASCII letters only ("the LIKE operator is case sensitive by
    default for unicode characters that are beyond the ASCII range", https://www.sqlite.org/lang_expr.html#like),
    where Postgres' ILIKE folds every letter (Ä matches ä). So both sides get their ASCII letters
    lowered (translate(), which touches nothing else) and are matched with LIKE. SQLite has no escape
    character unless one is named; Postgres reads backslash as one, so a pattern that could hold a
    backslash gets ESCAPE ''."""
    pattern = _text_operand(node.expression)
    if isinstance(pattern, exp.Literal):
        pattern = exp.Literal.string(pattern.this.translate(_ASCII_LOWER))
    elif not isinstance(pattern, exp.Null):
        pattern = _ascii_lower(pattern)
    like = exp.Like(this=_ascii_lower(_text_operand(node.this)), expression=pattern, negate=node.args.get("negate"))
    plain = isinstance(pattern, exp.Literal) and "\\" not in pattern.this
    if isinstance(node.parent, exp.Escape) or plain:
        return like
    return exp.Escape(this=like, expression=exp.Literal.string(""))


def _rule_escape(node: exp.Escape) -> exp.Expression:
    if not isinstance(node.expression, exp.Literal) or not node.expression.is_string:
        raise _Untranslatable("uses an ESCAPE that is not a string")
    if node.expression.this.translate(_ASCII_LOWER) != node.expression.this:
        raise _Untranslatable("uses an ESCAPE letter, which lowering the pattern's letters would change")
    return node


def _nonzero_number(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and float(node.this) != 0


def _rule_arithmetic(node: exp.Binary) -> exp.Expression:
    """+, -, *, / as SQLite computes them: text as the number it starts with (`_text_number`), an
    integer divided by an integer truncated (Postgres does the same with bigint; a decimal column's
    whole numbers are integers in SQLite, so its division is written out), x / 0 NULL
    (https://www.sqlite.org/lang_expr.html#operators)."""
    left, right = _number_operand(node.this), _number_operand(node.expression)
    node.set("this", left)
    node.set("expression", right)
    if isinstance(node, exp.Div):
        kinds = [_kind(left), _kind(right)]
        decimal = [k is not None and _family(k) == "number" and k not in _INTEGER_TYPES and k not in _DOUBLE_TYPES
                   for k in kinds]
        if any(decimal) and not any(k in _DOUBLE_TYPES for k in kinds):
            if not all(_decimal_column(side) or kind in _INTEGER_TYPES for side, kind in zip((left, right), kinds)):
                raise _Untranslatable("divides a computed decimal value: SQLite divides whole numbers as integers")
            return _pg("CASE WHEN CAST(__a__ AS DECIMAL) = TRUNC(CAST(__a__ AS DECIMAL)) "
                       "AND CAST(__b__ AS DECIMAL) = TRUNC(CAST(__b__ AS DECIMAL)) "
                       "THEN TRUNC(CAST(__a__ AS DECIMAL) / NULLIF(CAST(__b__ AS DECIMAL), 0)) "
                       "ELSE CAST(__a__ AS DECIMAL) / NULLIF(CAST(__b__ AS DECIMAL), 0) END", "numeric", a=left, b=right)
        if _nonzero_number(right):
            node.set("safe", False)  # sqlglot's NULLIF keeps SQLite's x / 0 = NULL; not needed here
    return node


def _rule_mod(node: exp.Mod) -> exp.Expression:
    # SQLite's % works on integers (5.5 % 2 is 1) and gives NULL for % 0, where Postgres fails.
    for side in (node.this, node.expression):
        kind = _kind(side)
        if kind is not None and kind not in _INTEGER_TYPES:
            raise _Untranslatable(f"% on {kind}")
    if not _nonzero_number(node.expression):
        node.set("expression", exp.Nullif(this=node.expression, expression=exp.Literal.number(0)))
    return node


def _rule_number_function(node: exp.Expression) -> exp.Expression:
    """sum() and avg() of numbers. SQLite's sum() of integers is an integer (an overflow is an error),
    where Postgres' sum(bigint) is numeric (PostgreSQL docs, 9.21 "Aggregate Functions"), so that
    `sum(qty) / 1000` would no longer divide as integers: such a sum is cast back to bigint, which
    fails on overflow as SQLite's does (https://www.sqlite.org/lang_aggfunc.html#sumunc)."""
    node.set("this", _number_operand(node.this))
    summed = node.this.expressions if isinstance(node.this, exp.Distinct) else [node.this]  # sum(DISTINCT x)
    if isinstance(node, exp.Sum) and len(summed) == 1 and _kind(summed[0]) in _INTEGER_TYPES:
        return _cast(node, "bigint")
    return node


def _rule_round(node: exp.Round) -> exp.Expression:
    """round() of a numeric: SQLite rounds halves away from zero, Postgres' double round() to even."""
    decimals = node.args.get("decimals")
    if decimals is not None and not (isinstance(decimals, exp.Literal) and decimals.is_int):
        raise _Untranslatable("round() to a computed number of places")
    return exp.Round(this=_cast(_number_operand(node.this), "numeric"), decimals=decimals)


def _rule_text_function(node: exp.Expression) -> exp.Expression:
    for key in ("this", "expression", "substr", "replacement"):
        if node.args.get(key) is not None:
            node.set(key, _text_operand(node.args[key]))
    return node


def _rule_letter_case(node: exp.Expression) -> exp.Expression:
    """SQLite's lower() and upper() change ASCII letters only ("lower-case ASCII characters are converted
    to their upper-case equivalent", https://www.sqlite.org/lang_corefunc.html#upper, without ICU);
    Postgres' fold every letter the database's locale knows (on a C.UTF-8 or ICU database, 'é' -> 'É'),
    so a CHECK (upper(u) = u) would refuse what SQLite accepts. Written as TRANSLATE of the 26 letters."""
    text = _text_operand(node.this)
    return _ascii_lower(text) if isinstance(node, exp.Lower) else _ascii_upper(text)


def _rule_length(node: exp.Length) -> exp.Expression:
    if _kind(node.this) == "bytea":
        return node  # bytes in both
    node.set("this", _text_operand(node.this))
    return node


def _rule_substring(node: exp.Substring) -> exp.Expression:
    """substr(x, start[, length]) as SQLite counts (https://www.sqlite.org/lang_corefunc.html#substr):
    from 1, and from 0 as Postgres does too; a negative start counts from the end, which Postgres'
    substr() does not, so it is written out. A computed position or a negative length is refused."""
    start, length = _int_literal(node.args.get("start")), _int_literal(node.args.get("length"))
    if start is None or (node.args.get("length") is not None and length is None):
        raise _Untranslatable("uses substr() with a computed position or length")
    if length is not None and length < 0:
        raise _Untranslatable("uses substr() with a negative length")
    text = _text_operand(node.this)
    if start >= 0:
        node.set("this", text)
        return node
    # SQLite: p1 = start + length(x); when negative, the length shrinks by it and p1 becomes 0.
    begin = f"GREATEST(LENGTH(__x__) - {-start}, 0) + 1"
    if length is None:
        return _pg(f"SUBSTRING(__x__ FROM {begin})", "text", x=text)
    return _pg(f"SUBSTRING(__x__ FROM {begin} FOR GREATEST({length} + LEAST(LENGTH(__x__) - {-start}, 0), 0))",
               "text", x=text)


def _rule_trim(node: exp.Trim) -> exp.Expression:
    if node.args.get("collation") is not None:
        raise _Untranslatable("trim() with a collation")
    return _rule_text_function(node)


def _rule_same_kind(node: exp.Expression) -> exp.Expression:
    _require_comparable(*[a for a in node.iter_expressions()])
    return node


def _rule_case(node: exp.Case) -> exp.Expression:
    results = [i.args.get("true") for i in node.args["ifs"]] + [node.args.get("default")]
    _require_comparable(*[r for r in results if r is not None])
    if node.this is not None:
        _require_comparable(node.this, *[i.this for i in node.args["ifs"]])
    return node


def _rule_if(node: exp.If) -> exp.Expression:
    if not (isinstance(node.parent, exp.Case) and node.parent.this is not None):
        _condition(node.this)
    if not isinstance(node.parent, exp.Case):
        _require_comparable(*[r for r in (node.args.get("true"), node.args.get("false")) if r is not None])
    return node


def _rule_condition(node: exp.Expression) -> exp.Expression:
    _condition(node.this)
    if isinstance(node, exp.Connector):
        _condition(node.expression)
    return node


def _rule_join(node: exp.Join) -> exp.Expression:
    _condition(node.args.get("on"))
    return node


_CAST_TYPES = {
    exp.DataType.Type.INT: "bigint", exp.DataType.Type.BIGINT: "bigint", exp.DataType.Type.SMALLINT: "bigint",
    exp.DataType.Type.TINYINT: "bigint", exp.DataType.Type.MEDIUMINT: "bigint",
    exp.DataType.Type.TEXT: "text", exp.DataType.Type.VARCHAR: "text", exp.DataType.Type.CHAR: "text",
    exp.DataType.Type.NCHAR: "text", exp.DataType.Type.NVARCHAR: "text",
    exp.DataType.Type.DOUBLE: "double precision", exp.DataType.Type.FLOAT: "double precision",
}


def _rule_cast(node: exp.Cast) -> exp.Expression:
    """CAST by SQLite's affinity: INTEGER truncates a real (Postgres rounds), TEXT keeps no length."""
    if "literal" in node.meta:
        return node  # a real literal, typed double precision by _prepare
    target = _CAST_TYPES.get(node.to.this)
    value = node.this
    kind = _kind(value)
    if target is None:
        raise _Untranslatable(f"CAST to {node.to.sql()}")
    if isinstance(value, exp.Null) or kind in _INTEGER_TYPES or kind in _TEXT_TYPES:
        return _cast(value, target)
    if kind and _family(kind) == "number" and target == "bigint":
        return _cast(exp.func("trunc", value), "bigint")
    if kind and _family(kind) == "number" and target == "double precision":
        return _cast(value, target)
    raise _Untranslatable(f"CAST of {kind or 'a value of unknown type'} to {target}")


def _epoch_now() -> exp.Expression:
    # Whole seconds, as SQLite's strftime('%s') and unixepoch() give them.
    epoch = exp.Extract(this=exp.var("EPOCH"), expression=exp.CurrentTimestamp())
    return _cast(exp.Floor(this=epoch), "bigint")


def _is_now(args: list[exp.Expression]) -> bool:
    return not args or (len(args) == 1 and isinstance(args[0], exp.Literal) and args[0].this.lower() == "now")


def _rule_anonymous(node: exp.Anonymous) -> exp.Expression:
    name, args = node.name.lower(), node.expressions
    if name == "datetime" and _is_now(args):
        return exp.CurrentTimestamp()
    if name == "date" and len(args) == 1 and _is_now(args):
        return exp.CurrentDate()
    if name == "unixepoch" and _is_now(args):
        return _epoch_now()
    if name == "strftime" and len(args) == 2 and isinstance(args[0], exp.Literal) and args[0].this == "%s" \
            and _is_now(args[1:]):
        return _epoch_now()
    if name == "json_valid" and len(args) == 1 and _kind(args[0]) == "jsonb":
        # jsonb holds only valid JSON; json_valid(NULL) is NULL, which a CHECK lets through.
        return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=args[0], expression=exp.Null())),
                                    true=exp.Boolean(this=True))])
    if name in _DATE_FUNCTIONS and node.meta.get("view"):
        return _date_function(name, list(args))
    if name in _DATE_FUNCTIONS:  # to_char() and text-to-timestamp casts are not immutable
        raise _Untranslatable(f"uses {name}() of a column, which is translated in views only (an index or "
                              "generated column needs an immutable expression)")
    raise _Untranslatable(f"uses {name}(), which is not translated")


def _rule_aggregate_text(node: exp.GroupConcat) -> exp.Expression:
    """group_concat() as string_agg(), in the order SQLite reads the rows: that order is its query
    plan's, which Postgres can reproduce only where SQLite has one way to read them, one table by its
    integer primary key with no index (`Names.scan_keys`); elsewhere it is refused."""
    separator = node.args.get("separator")
    if isinstance(node.this, exp.Distinct) or (separator is not None and not (isinstance(separator, exp.Literal) and separator.is_string)):
        raise _Untranslatable("uses group_concat() with DISTINCT or a computed separator")
    key = _scan_order(node)
    if key is None:
        raise _Untranslatable("uses group_concat() over rows SQLite may read in another order than Postgres "
                              "(a join, a subquery, or a table with an index or without an integer primary key)")
    return _pg("STRING_AGG(__x__, __s__ ORDER BY __k__)", "text", x=_text_operand(node.this),
               s=separator if separator is not None else exp.Literal.string(","), k=key)


def _rule_min_max(node: exp.Expression) -> exp.Expression:
    if node.expressions or _kind(node.this) == "jsonb":
        raise _Untranslatable("uses min()/max() of several values or of jsonb")
    if _texts(node.this):
        node.set("this", _in_bytes(node.this))  # SQLite's BINARY collation
    return node


def _rule_ordered(node: exp.Expression) -> exp.Expression:
    if _kind(node.this) == "jsonb":
        raise _Untranslatable("ORDER BY / GROUP BY a jsonb column")  # SQLite ordered the text
    return node


def _rule_group(node: exp.Group) -> exp.Expression:
    if any(_kind(key) == "jsonb" for key in node.expressions):
        raise _Untranslatable("GROUP BY a jsonb column")  # SQLite grouped equal text, not equal JSON
    return node


def _rule_limit(node: exp.Expression) -> exp.Expression:
    value = node.expression
    if not (isinstance(value, exp.Literal) and value.is_int):
        raise _Untranslatable("LIMIT / OFFSET that is not a whole number")  # LIMIT -1 means none in SQLite
    return node


# --- SQLite's semantics in Postgres SQL: affinities, the text and numbers SQLite makes, time ------------

_TEMPLATES: dict[str, exp.Expression] = {}
_DOUBLE_TYPES = {"double precision", "real", "float8", "float4"}
_NUMERIC_AFFINITIES = ("INTEGER", "REAL", "NUMERIC")
_UNKNOWN = "unknown"  # the affinity of a column whose Origin Names does not give


def _pg(template: str, kind: str | None, **parts: exp.Expression) -> exp.Expression:
    """Postgres SQL this module writes: `template` parsed as Postgres SQL (once), each `__name__` in it
    replaced by `parts[name]` (already in Postgres terms); `_kind` of the result is `kind`.

        >>> _pg("TRUNC(__x__)", "numeric", x=exp.column("price")).sql(dialect="postgres")
        'TRUNC(price)'
    """
    if template not in _TEMPLATES:
        _TEMPLATES[template] = sqlglot.parse_one(template, read="postgres")
    tree = _TEMPLATES[template].copy()
    used: set[str] = set()
    for hole in list(tree.find_all(exp.Column)):
        key = hole.name[2:-2] if hole.name.startswith("__") and hole.name.endswith("__") else ""
        if key in parts:
            hole.replace(parts[key].copy() if key in used else parts[key])
            used.add(key)
    tree.meta["kind"] = kind
    return tree


def _affinity(node: exp.Expression) -> str | None:
    """The affinity SQLite gives an expression (https://www.sqlite.org/datatype3.html section 4.2): a
    column's, a CAST's type's, none (None) for anything else; `_UNKNOWN` for a column whose Origin is
    not given."""
    if "affinity" in node.meta:
        return node.meta["affinity"]
    if isinstance(node, (exp.Paren, exp.Collate)):
        return _affinity(node.this)
    if isinstance(node, exp.Column):
        column = node.meta.get("column")
        return column.origin.affinity if column is not None and column.origin is not None else _UNKNOWN
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
        first = node.this.expressions[0]
        return _affinity(first.this if isinstance(first, exp.Alias) else first)
    return None


def _origin(node: exp.Expression) -> Origin | None:
    """How SQLite holds what an output expression yields: a column's own Origin, min()/max() of a
    column the column's (an aggregate has no affinity), a CAST's affinity, else no affinity."""
    if isinstance(node, exp.Paren):
        return _origin(node.this)
    if isinstance(node, exp.Column):
        column = node.meta.get("column")
        return column.origin if column is not None else None
    if isinstance(node, (exp.Min, exp.Max)) and isinstance(node.this, exp.Column):
        inner = _origin(node.this)
        return Origin(None, inner.convert, inner.text_form, inner.reals) if inner else None
    return Origin(node.meta.get("affinity"))


def _with_affinity(left: exp.Expression, right: exp.Expression) -> tuple[exp.Expression, exp.Expression]:
    """The two operands of a comparison as SQLite compares them (https://www.sqlite.org/datatype3.html
    section 4.2): numeric affinity applied to the other operand when one has INTEGER, REAL or NUMERIC
    affinity and the other TEXT, BLOB or none; TEXT affinity applied when one has TEXT and the other
    none (`discontinued = 0` compares the text '0'). Unchanged when an Origin is not known."""
    a, b = _affinity(left), _affinity(right)
    if _UNKNOWN in (a, b):
        return left, right
    if a in _NUMERIC_AFFINITIES and b not in _NUMERIC_AFFINITIES:
        return left, _as_number(right)
    if b in _NUMERIC_AFFINITIES and a not in _NUMERIC_AFFINITIES:
        return _as_number(left), right
    if a == "TEXT" and b is None:
        return left, _as_text(right)
    if b == "TEXT" and a is None:
        return _as_text(left), right
    return left, right


def _as_number(node: exp.Expression) -> exp.Expression:
    """NUMERIC affinity applied to a value: text that spells a number becomes that number (SQLite
    itself decides, `_sqlite_stores`), other text stays text. Refused for text that is not a
    constant: SQLite would turn only some rows' text into numbers."""
    kind = _kind(node)
    if kind is None or _family(kind) != "text" or "instant" in node.meta:
        return node  # numbers stay; a converted time's text never spells a number (views.text_forms)
    if isinstance(node, exp.Literal) and node.is_string:
        value = _sqlite_stores(_pg_string(node.this), "NUMERIC")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return node
        return _constant(value)
    raise _Untranslatable("compares text with a number: SQLite compares as numbers only the rows whose text "
                          "spells one")


def _as_text(node: exp.Expression) -> exp.Expression:
    """TEXT affinity applied to a value with none: a number becomes the text SQLite prints for it."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return exp.Literal.string(str(int(node.this)))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_int:
        return exp.Literal.string(str(-int(node.this.this)))
    if isinstance(node, exp.Neg) and "literal" in node.this.meta:
        return exp.Literal.string(_sqlite_stores(f"-{node.this.meta['literal']}", "TEXT"))
    return _text_operand(node)


def _texts(*nodes: exp.Expression) -> bool:
    """Whether any of the nodes is text (compared or ordered as text)."""
    return any((k := _kind(n)) is not None and _family(k) == "text" for n in nodes)


def _in_bytes(node: exp.Expression) -> exp.Expression:
    """Text ordered by its bytes, as SQLite's BINARY collation orders it (memcmp: https://www.sqlite.org/datatype3.html
    section 7.1), whatever collation the Postgres database or column has."""
    return exp.Collate(this=node, expression=exp.Identifier(this="C", quoted=True))


def _ascii_lower(node: exp.Expression) -> exp.Expression:
    """Text with its ASCII letters in lower case and every other character as it is."""
    return _pg(f"TRANSLATE(__x__, '{string.ascii_uppercase}', '{string.ascii_lowercase}')", "text", x=node)


def _ascii_upper(node: exp.Expression) -> exp.Expression:
    """Text with its ASCII letters in upper case and every other character as it is."""
    return _pg(f"TRANSLATE(__x__, '{string.ascii_lowercase}', '{string.ascii_uppercase}')", "text", x=node)


# A real as SQLite prints it: "%!.15g" (15 significant digits, ".0" after a whole number; sqlite3's
# printf.c, the same text CAST(x AS TEXT) gives). Postgres' float8 -> numeric cast rounds to the same 15
# digits (float8_numeric, "%.*g" with DBL_DIG); the exponent form SQLite uses below 1e-4 and from 1e15
# up is not written out: such a value stops the query with an error naming it, never other text.
_REAL_TEXT = (
    "CASE WHEN __x__ = 0 THEN '0.0' "
    "WHEN ABS(CAST(__x__ AS DECIMAL)) >= 0.0001 AND ABS(CAST(__x__ AS DECIMAL)) < 1000000000000000 "
    "THEN CAST(CAST(__x__ AS DECIMAL) AS TEXT) "
    "|| CASE WHEN STRPOS(CAST(CAST(__x__ AS DECIMAL) AS TEXT), '.') = 0 THEN '.0' ELSE '' END "
    "ELSE CAST(CAST('sqlite2neon: SQLite prints this real in exponent form: ' || CAST(__x__ AS TEXT) AS INT) AS TEXT) END"
)


def _real_text(node: exp.Expression) -> exp.Expression:
    return _pg(_REAL_TEXT, "text", x=node)


# Text used as a number: the longest prefix that spells a number, after leading spaces, or 0
# ("12abc" + 1 is 13, "abc" + 1 is 1; https://www.sqlite.org/lang_expr.html#castexpr, "CAST to NUMERIC").
_TEXT_NUMBER = (
    "CASE WHEN __x__ IS NULL THEN NULL ELSE COALESCE(CAST(SUBSTRING(__x__ FROM "
    "'^[ \\t\\n\\v\\f\\r]*([+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?)') AS DECIMAL), 0) END"
)


def _text_number(node: exp.Expression) -> exp.Expression:
    return _pg(_TEXT_NUMBER, "numeric", x=node)


def _decimal_column(node: exp.Expression) -> bool:
    """A decimal (numeric) column itself: SQLite holds its whole numbers as integers, the rest as reals."""
    while isinstance(node, exp.Paren):
        node = node.this
    kind = _kind(node)
    return isinstance(node, exp.Column) and kind is not None and _family(kind) == "number" \
        and kind not in _INTEGER_TYPES and kind not in _DOUBLE_TYPES


def _int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_int:
        return -int(node.this.this)
    return None


# --- converted columns, read as SQLite holds them --------------------------------------------------------

_STORED = ("iso_text", "unix_seconds", "unix_millis", "unix_micros", "julian_day")
# Postgres SQL: the number a time column held in SQLite, per unit. A column of integers gives the
# integer back; a column with reals the double nearest the exact decimal EXTRACT gives (microseconds:
# the very double the load read, unless it had digits beyond them, a listed loss).
_UNIX_NUMBER = {"unix_seconds": "EXTRACT(EPOCH FROM __c__)", "unix_millis": "EXTRACT(EPOCH FROM __c__) * 1000",
                "unix_micros": "EXTRACT(EPOCH FROM __c__) * 1000000"}
_TIMES = ("timestamptz", "timestamp", "date")
# Where a converted column keeps its Postgres value: an output, a grouping or ordering key, min/max/count.
_PASS_THROUGH = (exp.Select, exp.Group, exp.Ordered, exp.Distinct, exp.Count, exp.Min, exp.Max)


def _holds_other_value(col: exp.Column) -> bool:
    """Whether SQLite computes with another value than Postgres holds: a time converted from ISO text
    or unix seconds, used anywhere but as an output or a key."""
    column = col.meta.get("column")
    origin = column.origin if column is not None else None
    if origin is None or origin.convert not in _STORED or _kind(col) not in _TIMES:
        return False
    parent = col.parent
    while isinstance(parent, (exp.Paren, exp.Alias)):
        parent = parent.parent
    return not isinstance(parent, _PASS_THROUGH)


def _stored_value(col: exp.Column) -> exp.Expression:
    """The value SQLite holds for a converted time column: its ISO text, given back by `to_char` with
    the pattern of the one shape its rows have (`Origin.text_form`), or its number in the column's unit:
    an integer when the column holds no reals, else the double (`Origin.reals`, `_UNIX_NUMBER`).
    The result remembers the Postgres column (`instant`), which the date functions read directly."""
    column = col.meta["column"]
    origin, pg_type = column.origin, _kind(col)
    instant = col.copy()
    instant.meta["column"] = column
    if origin.convert == "iso_text":
        if not origin.text_form:
            raise _Untranslatable(f"reads {column.name} as the text SQLite holds, but it became {pg_type} and its "
                                  "rows hold that text in more than one shape")
        at = col if pg_type == "date" else _pg("__c__ AT TIME ZONE 'UTC'", "timestamp", c=col)
        value = exp.Anonymous(this="TO_CHAR", expressions=[at, exp.Literal.string(origin.text_form)])
        value.meta["kind"] = "text"
    elif origin.convert == "julian_day" and origin.reals:  # as julianday() writes it: milliseconds / 86400000.0
        value = _pg(_JULIAN_OF, "double precision", t=col)
    elif origin.convert == "julian_day":  # whole days (an integer SQLite reads at noon UTC)
        value = _pg(_JULIAN_DAYS_OF, "bigint", t=col)
    elif origin.reals:
        value = _pg(f"CAST({_UNIX_NUMBER[origin.convert]} AS DOUBLE PRECISION)", "double precision", c=col)
    else:
        value = _pg(f"CAST({_UNIX_NUMBER[origin.convert]} AS BIGINT)", "bigint", c=col)
    value.meta.update(affinity=origin.affinity, instant=instant, convert=origin.convert)
    return value


# --- date and time functions (https://www.sqlite.org/lang_datefunc.html) -----------------------------------

_JULIAN_OF = ("(CAST(EXTRACT(EPOCH FROM __t__) * 1000 AS BIGINT) + 210866760000000) / CAST(86400000 AS DOUBLE "
              "PRECISION)")
_JULIAN_DAYS_OF = "(CAST(EXTRACT(EPOCH FROM __t__) * 1000 AS BIGINT) + 210866760000000) / 86400000"

# ISO text SQLite reads as a time and Postgres reads the same way: a valid date, hours 00-23, at most
# milliseconds (SQLite keeps milliseconds). Text that cannot be a time (no digit, sign or point after
# leading spaces, not 'now') is NULL in both. Anything else SQLite might read (a Julian day number, a
# time zone, 24:00, 2024-02-30) stops the query with an error naming it, never gives another time.
_PARSE_TIME = (
    "CASE WHEN __x__ ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,3})?)?)?$' THEN CAST(__x__ AS TIMESTAMP) "
    "WHEN NOT __x__ ~ '^[ \\t\\n\\v\\f\\r]*[-+.0-9]' AND LOWER(__x__) <> 'now' THEN NULL "
    "ELSE CAST('sqlite2neon: a time value this view does not read as SQLite does: ' || __x__ AS TIMESTAMP) END"
)
# strftime() conversions every SQLite version has; 3.44 added the others (%F, %T, %e, ...), which older
# versions answer with NULL, so a view using them means different things to different apps.
_LONGSTANDING = set("dfHjJmMsSwWY%")
_SHIFT = re.compile(r"([+-]?)\s*(\d+)\s+(day|hour|minute|second)s?")
_STARTS = {"start of day": "day", "start of month": "month", "start of year": "year"}


def _date_function(name: str, args: list[exp.Expression]) -> exp.Expression:
    """date(), time(), datetime(), julianday(), unixepoch() or strftime() of a column or expression
    (calls of constants are computed by SQLite in `_prepare`): the time value read as SQLite reads it
    (`_time_value`), the modifiers applied in order, the result printed as the function prints it."""
    fmt = None
    if name == "strftime":
        if not args or not (isinstance(args[0], exp.Literal) and args[0].is_string):
            raise _Untranslatable("uses strftime() with a format that is not a string")
        fmt, args = args[0].this, args[1:]
        newer = sorted({c for c in re.findall(r"%(.?)", fmt) if c not in _LONGSTANDING})
        if newer:
            raise _Untranslatable(f"uses strftime() with %{newer[0]}, which SQLite before 3.44 answers with NULL")
    value, modifiers = (args[0], args[1:]) if args else (exp.Literal.string("now"), [])
    if not all(isinstance(m, exp.Literal) and m.is_string for m in modifiers):
        raise _Untranslatable(f"uses {name}() with a modifier that is not a string")
    mods = [m.this.strip().lower() for m in modifiers]
    at = _time_value(value, mods, name)
    for modifier in mods:
        if m := _SHIFT.fullmatch(modifier):
            at = _pg(f"__t__ + INTERVAL '{m.group(1)}{m.group(2)} {m.group(3)}'", "timestamp", t=at)
        elif modifier in _STARTS:
            at = _pg(f"DATE_TRUNC('{_STARTS[modifier]}', __t__)", "timestamp", t=at)
        else:
            raise _Untranslatable(f"uses {name}() with the modifier '{modifier}', which is not translated")
    if name == "julianday":  # SQLite's milliseconds since the Julian epoch, divided as a double
        return _pg(_JULIAN_OF, "double precision", t=at)
    if name == "unixepoch":
        return _pg("CAST(FLOOR(EXTRACT(EPOCH FROM __t__)) AS BIGINT)", "bigint", t=at)
    fmt = fmt if fmt is not None else {"date": "%Y-%m-%d", "time": "%H:%M:%S", "datetime": "%Y-%m-%d %H:%M:%S"}[name]
    text = sqlglot.parse_one(_strftime_sql(fmt, at.sql(dialect="postgres", identify=True)), read="postgres")
    text.meta["kind"] = "text"
    return text


def _time_value(value: exp.Expression, mods: list[str], name: str) -> exp.Expression:
    """A SQLite time value as a Postgres timestamp in UTC: a converted column's own time, ISO text
    parsed (`_PARSE_TIME`), whole unix seconds with the 'unixepoch' modifier (taken from `mods`)."""
    unixepoch = bool(mods) and mods[0] == "unixepoch"
    instant, convert = value.meta.get("instant"), value.meta.get("convert")
    if instant is not None and convert == "iso_text" and not unixepoch:
        if _kind(instant) == "date":
            return _pg("CAST(__c__ AS TIMESTAMP)", "timestamp", c=instant)
        return _pg("__c__ AT TIME ZONE 'UTC'", "timestamp", c=instant)
    if instant is not None and convert == "julian_day" and not unixepoch:  # SQLite reads the number as a time
        return _pg("__c__ AT TIME ZONE 'UTC'", "timestamp", c=instant)
    if instant is not None and convert == "unix_seconds" and unixepoch:
        mods.pop(0)
        return _pg("__c__ AT TIME ZONE 'UTC'", "timestamp", c=instant)
    if instant is not None:
        raise _Untranslatable(f"uses {name}() of a column SQLite holds as {convert.replace('_', ' ')}"
                              + ("" if unixepoch else " without the 'unixepoch' modifier"))
    kind = _kind(value)
    if isinstance(value, exp.Literal) and value.is_string and value.this.strip().lower() == "now" and not unixepoch:
        return _pg("CURRENT_TIMESTAMP AT TIME ZONE 'UTC'", "timestamp")
    if kind is not None and _family(kind) == "text" and not unixepoch:
        return _pg(_PARSE_TIME, "timestamp", x=value)
    if kind in _INTEGER_TYPES and unixepoch:
        mods.pop(0)
        return _pg("TO_TIMESTAMP(__x__) AT TIME ZONE 'UTC'", "timestamp", x=value)
    raise _Untranslatable(f"uses {name}() of {kind or 'a value of unknown type'}"
                          + (" with 'unixepoch'" if unixepoch else " (SQLite reads a number as a Julian day)"))


def _scan_order(node: exp.Expression) -> exp.Column | None:
    """The column SQLite reads the rows of `node`'s SELECT in, when there is one way to read them."""
    select = node.find_ancestor(exp.Select)
    source = select.args.get("from_") if select is not None else None
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or select.args.get("joins") or not table.meta.get("scan_key"):
        return None
    return exp.column(table.meta["scan_key"], table=table.alias_or_name, quoted=True)


_RULES = {
    exp.EQ: _rule_comparison, exp.NEQ: _rule_comparison,
    exp.NullSafeEQ: _rule_comparison, exp.NullSafeNEQ: _rule_comparison,
    exp.GT: _rule_comparison, exp.GTE: _rule_comparison, exp.LT: _rule_comparison, exp.LTE: _rule_comparison,
    exp.Between: _rule_between, exp.In: _rule_in, exp.Is: _rule_is,
    exp.Like: _rule_like, exp.Escape: _rule_escape,
    exp.Add: _rule_arithmetic, exp.Sub: _rule_arithmetic, exp.Mul: _rule_arithmetic, exp.Div: _rule_arithmetic,
    exp.Mod: _rule_mod, exp.Neg: _rule_number_function, exp.Abs: _rule_number_function,
    exp.Sum: _rule_number_function, exp.Avg: _rule_number_function, exp.Round: _rule_round,
    exp.DPipe: _rule_text_function, exp.Lower: _rule_letter_case, exp.Upper: _rule_letter_case,
    exp.Replace: _rule_text_function, exp.StrPosition: _rule_text_function, exp.Trim: _rule_trim,
    exp.Length: _rule_length, exp.Substring: _rule_substring,
    exp.Coalesce: _rule_same_kind, exp.Nullif: _rule_same_kind, exp.Case: _rule_case, exp.If: _rule_if,
    exp.And: _rule_condition, exp.Or: _rule_condition, exp.Not: _rule_condition,
    exp.Where: _rule_condition, exp.Having: _rule_condition, exp.Join: _rule_join,
    exp.Cast: _rule_cast, exp.Anonymous: _rule_anonymous,
    exp.GroupConcat: _rule_aggregate_text, exp.Min: _rule_min_max, exp.Max: _rule_min_max,
    exp.Ordered: _rule_ordered, exp.Group: _rule_group, exp.Limit: _rule_limit, exp.Offset: _rule_limit,
}


# --- DEFAULT clauses ---------------------------------------------------------------------------------
# A default is carried as the value SQLite stores for a row that omits the column, converted the way
# the load converts that column's values (convert.py): https://www.sqlite.org/lang_createtable.html
# (the DEFAULT clause), https://www.sqlite.org/lang_datefunc.html (the clock), and
# https://www.sqlite.org/datatype3.html section 3 (the column's affinity, applied before storing).

import functools  # noqa: E402 (this section is appended to the module, which did not need these before)
import re  # noqa: E402
import sqlite3  # noqa: E402


@dataclass
class DefaultTranslation:
    """A DEFAULT in Postgres terms: `sql`, or None when it cannot be carried, with the `reason`; and a
    `note` on how it was carried, when that needs saying."""

    sql: str | None
    reason: str = ""
    note: str = ""


def translate_default(default: str, declared_type: str, pg_type: str, convert: str = "none") -> DefaultTranslation:
    """A column's SQLite DEFAULT, as PRAGMA table_info gives it, as the Postgres default of a column of
    `pg_type` loaded with `convert`: a row that omits the column gets what SQLite would have stored,
    as the load converts it. A default Postgres cannot give faithfully comes back with sql None and
    the reason.

        >>> translate_default("CURRENT_TIMESTAMP", "TEXT", "text").sql
        "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        >>> translate_default("F", "BOOLEAN", "boolean").sql
        'false'
        >>> translate_default("lower(hex(randomblob(4)))", "TEXT", "text").reason
        'randomblob() gives another value for every row'
    """
    text = default.strip()
    affinity = affinity_of(declared_type)
    try:
        node = _parse_expression(text).expressions[0]
    except (_Untranslatable, SqlglotError):
        node = None
    try:
        clock = _clock_of(node) if node is not None else None
        if clock is not None:
            return _clock_default(clock, affinity, pg_type, convert)
        _require_constant(text, node)
        stored = _sqlite_stores(text, affinity)
    except _Untranslatable as exc:
        return DefaultTranslation(None, str(exc))
    value, reason = _constant_default(stored, pg_type, convert)
    return DefaultTranslation(value, reason)


# The clock: what each function stores, as a strftime format (text) or as a number.
_CLOCK_TEXT = {"datetime": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d", "time": "%H:%M:%S",
               "current_timestamp": "%Y-%m-%d %H:%M:%S", "current_date": "%Y-%m-%d", "current_time": "%H:%M:%S"}
_CLOCK_NUMBER = {"julianday": "julian", "unixepoch": "epoch"}
_CLOCK_FUNCTIONS = {"date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff"}
_SUBSEC = {"datetime": "%Y-%m-%d %H:%M:%f", "time": "%H:%M:%f"}


@dataclass
class _Clock:
    """A default that reads SQLite's clock ('now', in UTC unless `local`)."""

    spelled: str
    fmt: str | None  # the strftime format of the text it stores
    number: str | None  # or a number: "epoch" (whole seconds), "epoch_ms" (seconds, milliseconds), "julian" (days)
    local: bool = False


def _call(node: exp.Expression) -> tuple[str, list[exp.Expression]] | None:
    """(SQLite function name, arguments) of a call, whatever node sqlglot made of it."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), list(node.expressions)
    if isinstance(node, exp.Date) and not any(v for k, v in node.args.items() if k != "this"):
        return "date", [node.this] if node.this is not None else []
    if isinstance(node, exp.TimeToStr) and isinstance(node.this, exp.TsOrDsToTimestamp):
        value = node.this.this
        return "strftime", [node.args["format"]] + ([] if isinstance(value, exp.CurrentTimestamp) else [value])
    for kind, name in ((exp.CurrentTimestamp, "current_timestamp"), (exp.CurrentDate, "current_date"),
                       (exp.CurrentTime, "current_time")):
        if type(node) is kind:
            return name, list(node.iter_expressions())
    return None


def _is_text(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _clock_of(node: exp.Expression) -> _Clock | None:
    """The clock default `node` is (CURRENT_TIMESTAMP, datetime('now', 'localtime'), strftime(f, 'now'),
    julianday('now'), unixepoch(), ... in any case, in parentheses or not); None for anything else.
    Raises _Untranslatable for a clock default this cannot carry (a modifier such as '+1 day')."""
    while isinstance(node, exp.Paren):
        node = node.this
    call = _call(node)
    if call is None or call[0] not in set(_CLOCK_TEXT) | set(_CLOCK_NUMBER) | {"strftime"}:
        if _reads_clock(node):
            raise _Untranslatable(f"the current time inside an expression ({node.sql(dialect='sqlite')}) is not translated")
        return None
    name, args = call
    spelled = node.sql(dialect="sqlite")
    fmt, number = _CLOCK_TEXT.get(name), _CLOCK_NUMBER.get(name)
    if name.startswith("current_"):
        if args:
            raise _Untranslatable(f"{spelled} takes no arguments in SQLite")
        return _Clock(spelled, fmt, None)
    if name == "strftime":
        if not args or not _is_text(args[0]):
            raise _Untranslatable(f"{spelled}: a format that is not a string is not translated")
        fmt, args = args[0].this, args[1:]
        if fmt == "%s":  # the digits of unixepoch(): the same value once an affinity or the load reads them
            fmt, number = None, "epoch"
    if not all(_is_text(a) for a in args):
        raise _Untranslatable(f"{spelled}: arguments that are not strings are not translated")
    if args and args[0].this.strip().lower() != "now":
        return None  # a fixed time: a constant, evaluated like any other
    clock = _Clock(spelled, fmt, number)
    for modifier in (a.this.strip().lower() for a in args[1:]):
        if modifier == "localtime":
            clock.local = True
        elif modifier in ("subsec", "subsecond"):
            clock.fmt = _SUBSEC.get(name, clock.fmt)
            clock.number = "epoch_ms" if name == "unixepoch" else clock.number
        else:
            raise _Untranslatable(f"{spelled}: the modifier '{modifier}' is not translated")
    return clock


def _reads_clock(node: exp.Expression) -> bool:
    """Whether an expression reads the clock anywhere: a time function of 'now', or of no time value."""
    for part in node.walk():
        if isinstance(part, (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime)):
            return True
        call = _call(part)
        if call and call[0] in _CLOCK_FUNCTIONS:
            values = call[1][1:] if call[0] == "strftime" else call[1]
            if not values or not _is_text(values[0]) or values[0].this.strip().lower() == "now":
                return True
    return False


# Words that take parentheses without being functions.
_NOT_FUNCTIONS = {"in", "and", "or", "not", "cast", "exists", "select", "values", "case", "when", "then", "else",
                  "is", "like", "glob", "regexp", "match", "between", "escape", "collate", "as", "distinct"}


def _require_constant(text: str, node: exp.Expression | None) -> None:
    """A default SQLite evaluates anew for each row (random(), the clock) has no constant value: raise
    _Untranslatable naming it. The functions it calls, as spelled, must be deterministic built-ins
    (PRAGMA function_list's SQLITE_DETERMINISTIC flag, https://www.sqlite.org/pragma.html#pragma_function_list)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("sqlite").tokenize(text)
    except SqlglotError:
        raise _Untranslatable(f"DEFAULT {text} could not be read") from None
    names = [t.text.lower() for t, after in zip(tokens, tokens[1:])
             if after.token_type == sqlglot.TokenType.L_PAREN and t.text.isidentifier()
             and t.text.lower() not in _NOT_FUNCTIONS]
    if node is None and set(names) & _CLOCK_FUNCTIONS:
        raise _Untranslatable(f"DEFAULT {text} could not be read")
    for name in names:
        deterministic, known = _function_flags()
        if name not in deterministic:
            raise _Untranslatable(f"{name}() gives another value for every row" if name in known
                                  else f"{name}() is not a built-in SQLite function (an extension or the app's)")


@functools.lru_cache(maxsize=1)
def _function_flags() -> tuple[frozenset[str], frozenset[str]]:
    """(deterministic built-in scalar functions, all built-in functions) of the SQLite Python links."""
    con = sqlite3.connect(":memory:")
    try:
        rows = con.execute("SELECT name, type, flags FROM pragma_function_list").fetchall()
    finally:
        con.close()
    deterministic = frozenset(n for n, kind, flags in rows if kind == "s" and flags & 0x800)  # SQLITE_DETERMINISTIC
    return deterministic, frozenset(n for n, _, _ in rows)


def _sqlite_stores(text: str, affinity: str):
    """The value SQLite stores for a row that omits a column of `affinity` with DEFAULT `text`, asked of
    SQLite itself (in memory): every literal spelling (hex, x'..', "double quoted", bare words, true /
    false) and constant expression means exactly what it meant in the source."""
    con = sqlite3.connect(":memory:")
    try:
        declared = "" if affinity == "BLOB" else affinity
        for clause in (text, f"({text})"):  # PRAGMA table_info drops the parentheses of DEFAULT (expr)
            try:
                con.execute(f"CREATE TABLE d (v {declared} DEFAULT {clause})")
                break
            except sqlite3.Error:
                continue
        else:
            raise _Untranslatable(f"DEFAULT {text} is not a constant SQLite accepts")
        try:
            con.execute("INSERT INTO d DEFAULT VALUES")
            return con.execute("SELECT v FROM d").fetchone()[0]
        except sqlite3.Error as exc:
            raise _Untranslatable(f"SQLite could not evaluate DEFAULT {text}: {exc}") from None
    finally:
        con.close()


def _pg_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _shown(value) -> str:
    if isinstance(value, bytes):
        return f"a BLOB (x'{value.hex()[:16]}')"
    if isinstance(value, str):
        return f"the text {_pg_string(value if len(value) <= 40 else value[:37] + '...')}"
    return f"the {'integer' if isinstance(value, int) else 'real'} {value!r}"


def _rounded_by(number: int | float | str, pg_type: str) -> str:
    """Why a column of `pg_type` (double precision, real, numeric or numeric(p,s)) would not store
    `number` (an integer, a real, or decimal text) as it is, or "" when it does. A double holds every
    integer up to 2^53 and a real (4 bytes) about 6 digits (PostgreSQL docs, 8.1.3); numeric(p,s)
    rounds to s decimals and refuses more than p - s integer digits (8.1.2): a literal with more
    digits is stored rounded, not refused."""
    import math
    import struct
    from decimal import Decimal

    if pg_type == "double precision":
        return "" if not isinstance(number, int) or float(number) == number else (
            f"which double precision rounds to {float(number)!r}")
    if pg_type == "real":
        x = float(number)
        try:
            kept = struct.unpack("f", struct.pack("f", x))[0]
        except OverflowError:
            return "too large for real"
        return "" if kept == x or math.isnan(x) else f"which real (4 bytes) rounds to {kept!r}"
    from .config import NUMERIC

    m = NUMERIC.fullmatch(pg_type)
    if not m:
        return ""
    precision, scale = int(m.group(1)), int(m.group(2))
    d = Decimal(repr(number) if isinstance(number, float) else str(number))
    if d.is_finite() and d != 0 and d.adjusted() + 1 > precision - scale:
        return f"too large for {pg_type}"
    if d.is_finite() and max(-d.normalize().as_tuple().exponent, 0) > scale:
        return f"which {pg_type} rounds to {d.quantize(Decimal(1).scaleb(-scale), rounding='ROUND_HALF_UP')}"
    return ""


_INTEGER_BITS = {"bigint": 63, "integer": 31, "smallint": 15}
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def _constant_default(value, pg_type: str, convert: str) -> tuple[str | None, str]:
    """(Postgres SQL, "") for the value SQLite stores, converted as convert.py converts a value of its
    storage class into `pg_type`; (None, reason) when the load would reject it."""
    import datetime as dt
    import json
    import math

    from .convert import FALSE_WORDS, TRUE_WORDS
    from .source import DATE_TEXT, JULIAN_MAX, TIME_UNITS, iso_datetime, unit_seconds

    if value is None:
        return "NULL", ""
    base = pg_type.split("(")[0].strip()
    number = value if isinstance(value, (int, float)) else None
    cannot = f"SQLite stores {_shown(value)}, which a {pg_type} column cannot hold (the load would reject it)"
    if isinstance(value, str) and "\x00" in value:
        return None, f"SQLite stores {_shown(value)}, holding a NUL character, which Postgres text cannot"
    if base in _INTEGER_BITS:
        n = None
        if isinstance(value, int):
            n = value
        elif isinstance(value, float) and value.is_integer():
            n = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            n = int(value)
        bits = _INTEGER_BITS[base]
        return (str(n), "") if n is not None and -(2 ** bits) <= n < 2 ** bits else (None, cannot)
    if base in ("double precision", "real", "numeric"):
        if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
            number = value.strip() if base == "numeric" else float(value)
        elif isinstance(value, str) and re.fullmatch(r"(?i)[+-]?inf(inity)?|nan", value.strip()):
            number = float(value.strip())  # words both float8 and numeric read (convert.NUMBER_TEXT)
        if number is None:
            return None, cannot
        if isinstance(number, float) and math.isnan(number):  # NaN fits numeric(p,s) too
            return f"'NaN'::{pg_type}", ""
        if isinstance(number, float) and math.isinf(number):
            if pg_type != base:  # numeric(p,s): an infinity only fits unconstrained numeric (docs 8.1.2)
                return None, f"SQLite stores {_shown(value)}, too large for {pg_type}"
            return f"'{'' if number > 0 else '-'}Infinity'::{pg_type}", ""
        if why := _rounded_by(number, pg_type):
            return None, f"SQLite stores {_shown(value)}, {why}"
        return (repr(number) if isinstance(number, float) else str(number)), ""
    if base == "boolean":
        word = str(value).strip().lower() if isinstance(value, str) else None
        if number in (0, 1) or word in TRUE_WORDS + FALSE_WORDS:
            return ("true" if number == 1 or word in TRUE_WORDS else "false"), ""
        return None, f"SQLite stores {_shown(value)}, not 0/1 or a boolean word (the load would reject it)"
    if base in ("timestamptz", "timestamp"):
        try:
            if number is not None:  # in the column's unit, as the load reads it (iso_text columns: seconds)
                unit = convert if convert in TIME_UNITS else "unix_seconds"
                if unit == "julian_day" and not 0 <= number < JULIAN_MAX:
                    return None, cannot
                at = dt.datetime.fromtimestamp(unit_seconds(number, unit), dt.timezone.utc)
            elif isinstance(value, str) and (at := iso_datetime(value)) is not None:  # as the load reads it
                # timestamptz keeps microseconds (PostgreSQL docs, 8.5.1): the load cuts further digits
                if (m := re.search(r":\d\d[.,]\d{6}(\d+)", value)) and m.group(1).strip("0"):
                    return None, f"SQLite stores {_shown(value)}, with digits beyond microseconds, which {pg_type} cuts"
            else:
                return None, cannot
        except (ValueError, OverflowError, OSError):
            return None, cannot
        if base == "timestamp":
            return _pg_string(at.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ")) + "::timestamp", ""
        return _pg_string(at.isoformat(" ")) + "::timestamptz", ""
    if base == "date":
        try:
            # a date, or one at midnight UTC: a time of day is no part of it (convert.py's date branch)
            day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) and re.match(DATE_TEXT, value) else None
        except ValueError:
            day = None
        return (_pg_string(day.isoformat()) + "::date", "") if day else (None, cannot)
    if base in ("jsonb", "json"):
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                return None, f"SQLite stores {_shown(value)}, which is not JSON (the load would reject it)"
        if isinstance(value, bytes):
            return None, cannot
        return _pg_string(value if isinstance(value, str) else repr(value)) + f"::{base}", ""
    if base == "bytea":
        raw = value if isinstance(value, bytes) else (value if isinstance(value, str) else repr(value)).encode()
        return _pg_string("\\x" + raw.hex()) + "::bytea", ""
    if base == "uuid":
        if isinstance(value, str) and _UUID.fullmatch(value.strip()):
            return _pg_string(value.strip().lower()) + "::uuid", ""
        return None, cannot
    if isinstance(value, bytes):  # text, varchar(n), citext: as the text the load writes
        return None, cannot
    shown = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if (m := re.fullmatch(r"(?:varchar|character varying)\((\d+)\)", pg_type)) and len(shown) > int(m.group(1)):
        return None, f"SQLite stores {_shown(value)}, longer than {pg_type} allows"
    return _pg_string(shown), ""


# strftime's conversions (https://www.sqlite.org/lang_datefunc.html section 5) as to_char patterns
# (https://www.postgresql.org/docs/current/functions-formatting.html), or as expressions over `{t}`.
_TO_CHAR = {"d": "DD", "f": "SS.MS", "F": "YYYY-MM-DD", "H": "HH24", "I": "HH12", "j": "DDD", "m": "MM",
            "M": "MI", "p": "AM", "P": "am", "R": "HH24:MI", "S": "SS", "T": "HH24:MI:SS", "u": "ID", "Y": "YYYY",
            "G": "IYYY", "g": "IY", "V": "IW"}
_STRFTIME_SQL = {
    "s": "floor(extract(epoch FROM {t}))::bigint::text",
    "J": "trim_scale(round(extract(epoch FROM {t}) / 86400 + 2440587.5, 9))::text",
    "w": "extract(dow FROM {t})::int::text",
    "W": "lpad(((extract(doy FROM {t})::int + 6 - (extract(dow FROM {t})::int + 6) % 7) / 7)::text, 2, '0')",
    "U": "lpad(((extract(doy FROM {t})::int + 6 - extract(dow FROM {t})::int) / 7)::text, 2, '0')",
    "e": "lpad(to_char({t}, 'FMDD'), 2)", "k": "lpad(to_char({t}, 'FMHH24'), 2)", "l": "lpad(to_char({t}, 'FMHH12'), 2)",
}
_DIGITS_ONLY = set("dHIjmMsSuwWUYGgV")  # conversions that print digits only
_ISO_FORMAT = re.compile(r"%Y-%m-%d(?:[ T]%H:%M(:%S|:%f)?)?Z?")


def _strftime_sql(fmt: str, at: str) -> str:
    """Postgres SQL giving the text strftime(fmt) gives for the time `at` (a timestamp without time zone).

        >>> _strftime_sql("%Y-%m-%dT%H:%M:%S", "now() AT TIME ZONE 'UTC'")
        'to_char(now() AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS\')'
    """
    pieces: list[tuple[str, str]] = []  # ("text", literal) | ("pattern", to_char pattern) | ("sql", expression)
    for literal, spec in re.findall(r"([^%]+)|%(.?)", fmt):
        if literal or spec == "%":
            pieces.append(("text", literal or "%"))
        elif spec in _TO_CHAR:
            pieces.append(("pattern", _TO_CHAR[spec]))
        elif spec in _STRFTIME_SQL:
            pieces.append(("sql", _STRFTIME_SQL[spec].format(t=f"({at})")))
        else:
            raise _Untranslatable(f"strftime's %{spec} is not translated")
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        if any(kind == "pattern" for kind, _ in run):
            # to_char reads letters as patterns: literal text with letters is double-quoted, \ and " escaped
            pattern = "".join(text if kind == "pattern" or not re.search(r'[A-Za-z"\\]', text) else
                              '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' for kind, text in run)
            out.append(f"to_char({at}, {_pg_string(pattern)})")
        elif run:
            out.append(_pg_string("".join(text for _, text in run)))
        run.clear()

    for kind, text in pieces:
        if kind == "sql":
            flush()
            out.append(text)
        else:
            run.append((kind, text))
    flush()
    return " || ".join(out) if out else "''"


def _format_number(fmt: str) -> str | None:
    """'integer' or 'real' when strftime(fmt) always prints a number SQLite's numeric affinities turn
    into one ('%s', '%Y%m%d', '%J'); None when it prints other text."""
    specs = re.findall(r"%(.)", fmt)
    if re.sub(r"%.", "", fmt) or not specs:
        return None
    fractions = sum(s in ("f", "J") for s in specs)
    if all(s in _DIGITS_ONLY or s in ("f", "J") for s in specs) and fractions <= 1:
        return "real" if fractions else "integer"
    return None


def _clock_default(clock: _Clock, affinity: str, pg_type: str, convert: str) -> DefaultTranslation:
    """A clock default in Postgres: the text or number SQLite stores (its affinity applied), converted
    as the load converts that column. 'now' is UTC in SQLite; 'localtime' is the machine's local time,
    for which Postgres has the session's TimeZone (localtimestamp)."""
    at = "localtimestamp" if clock.local else "now() AT TIME ZONE 'UTC'"
    note = ("; 'localtime' is the app machine's clock in SQLite, the session's TimeZone setting here"
            if clock.local else "")
    epoch = f"extract(epoch FROM ({at}))"
    if clock.number == "epoch":
        kind, value = "integer", f"floor({epoch})::bigint"
    elif clock.number == "epoch_ms":
        kind, value = "real", f"round({epoch}, 3)"
    elif clock.number == "julian":
        kind, value = "real", f"{epoch} / 86400 + 2440587.5"
    else:
        kind, value = "text", _strftime_sql(clock.fmt, at)
    # the column's affinity, applied by SQLite before it stores the value
    if kind == "text" and affinity in ("INTEGER", "REAL", "NUMERIC") and _format_number(clock.fmt):
        kind = "real" if affinity == "REAL" else _format_number(clock.fmt)
        value = f"({value})::{'bigint' if kind == 'integer' else 'numeric'}"
    elif kind == "integer" and affinity == "REAL":
        kind = "real"
    elif kind in ("integer", "real") and affinity == "TEXT":
        digits = 8 if clock.number == "julian" else 3  # SQLite prints a real with 15 significant digits
        value = f"({value})::text" if kind == "integer" else f"trim_scale(round({value}, {digits}))::text"
        kind = "text"
    what = {"integer": "whole unix seconds", "real": "a Julian day number" if clock.number == "julian" else
            "unix seconds with a fraction", "text": f"text like strftime('{clock.fmt}')"}[kind]
    cannot = DefaultTranslation(None, f"DEFAULT {clock.spelled} stores {what}, which a {pg_type} column cannot "
                                      "hold (the load would reject it or read it as another time)")
    base = pg_type.split("(")[0].strip()
    done = lambda sql: DefaultTranslation(sql, note=f"DEFAULT {clock.spelled}: {sql}{note}")  # noqa: E731
    if base in ("timestamptz", "timestamp"):
        if kind == "text" and clock.fmt and _ISO_FORMAT.fullmatch(clock.fmt.replace("%F", "%Y-%m-%d").replace("%T", "%H:%M:%S")):
            unit = ("second" if re.search(r"%[STf]", clock.fmt) else "minute" if re.search(r"%[MR]", clock.fmt)
                    else "day")
        elif kind in ("integer", "real") and (clock.number in ("epoch", "epoch_ms") and convert not in (
                "unix_millis", "unix_micros", "julian_day") or clock.number == "julian" and convert == "julian_day"):
            unit = "second"  # the clock's number, read in the unit the load reads the column's numbers in
        else:
            return cannot
        if unit == "second" and not clock.local:
            return done("now()" if base == "timestamptz" else "(now() AT TIME ZONE 'UTC')")
        naive = at if unit == "second" else f"date_trunc('{unit}', {at})"
        return done(f"({naive} AT TIME ZONE 'UTC')" if base == "timestamptz" else f"({naive})")
    if base == "date":
        if kind == "text" and clock.fmt and clock.fmt.replace("%F", "%Y-%m-%d").startswith("%Y-%m-%d"):
            return done(f"({at})::date")
        return cannot
    # numbers, or text that holds one (a TEXT column's digits): what the load reads as a number
    whole = clock.number == "epoch" or (clock.fmt is not None and _format_number(clock.fmt) == "integer")
    numeric = whole or clock.number is not None or (clock.fmt is not None and _format_number(clock.fmt) is not None)
    if base in _INTEGER_BITS:
        if kind == "integer" and base == "bigint":
            return done(value)
        return done(f"({value})::{base}") if whole else cannot
    if base in ("double precision", "real", "numeric"):
        return done(f"({value})::{pg_type}") if numeric else cannot
    if base in ("jsonb", "json"):
        return done(f"to_jsonb({value})" + ("::json" if base == "json" else "")) if kind != "text" else cannot
    if base in ("boolean", "uuid", "bytea"):
        return cannot
    if kind == "integer":
        value = f"({value})::text"
    elif kind == "real":
        value = f"trim_scale(round({value}, {8 if clock.number == 'julian' else 3}))::text"
    return done(value)
