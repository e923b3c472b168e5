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
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope


@dataclass
class Names:
    """How source names become target names, and what type each target column has."""

    tables: dict[str, str]  # source table name -> target table name
    columns: dict[str, dict[str, str]]  # source table -> {source column -> target column}
    types: dict[str, dict[str, str]]  # target table -> {target column -> postgres type}


def translate_expression(sql: str, table: str, names: Names) -> str | None:
    """A SQLite scalar expression over columns of source table `table`, as Postgres SQL over the
    target names; None when it cannot be translated faithfully.

        >>> translate_expression("ifnull(Title, '') || '!'", "Mental Items", names)
        'COALESCE("title", \'\') || \'!\''
    """
    try:
        holder = _parse_expression(sql)
        _require_supported(holder.expressions[0], _EXPRESSION_NODES)
        columns = _Catalog(names).columns_of(table)
        for col in list(holder.find_all(exp.Column)):
            _bind_table_column(col, table, columns)
        return _to_postgres(holder.expressions[0])
    except (_Untranslatable, SqlglotError):
        return None


def translate_view(create_sql: str, names: Names) -> str | None:
    """The SELECT of a `CREATE VIEW ... AS SELECT ...` statement as Postgres SQL over the target
    names; None when it cannot be translated faithfully.

        >>> translate_view("CREATE VIEW v AS SELECT Resolved, count(*) AS N FROM [Mental Items] GROUP BY 1", names)
        'SELECT "resolved", COUNT(*) AS "n" FROM "mental_items" GROUP BY 1'
    """
    try:
        query = _parse_view(create_sql)
        _require_supported(query, _QUERY_NODES)
        _name_unnamed_outputs(query)
        _fold_identifiers(query)
        _Resolver(_Catalog(names)).resolve(query)
        return _to_postgres(query)
    except (_Untranslatable, SqlglotError):
        return None


class _Untranslatable(Exception):
    """Raised inside this module when a fragment cannot keep its meaning in Postgres."""


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


def _require_supported(node: exp.Expression, allowed: frozenset) -> None:
    """Refuse any construct this module does not know the Postgres meaning of (windows, GLOB, ...)."""
    for part in node.walk():
        if type(part) not in allowed:
            raise _Untranslatable(f"{type(part).__name__} is not translated")
    if any(w.args.get("recursive") for w in node.find_all(exp.With)):
        raise _Untranslatable("recursive CTE")


def _name_unnamed_outputs(query: exp.Query) -> None:
    """An alias for each output that is neither a column nor named: Postgres would call them all
    "?column?" and refuse the view; SQLite names them after their text, and so does this."""
    for output in list(_first_select(query).expressions):
        if not isinstance(output, (exp.Column, exp.Alias, exp.Star)):
            output.replace(exp.alias_(output.copy(), output.sql(dialect="sqlite"), quoted=True))


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
    """A column a source offers: its folded SQLite name, its Postgres name and type."""

    name: str | None
    target: str | None
    pg_type: str | None


class _Catalog:
    """`Names`, looked up the way SQLite looks names up."""

    def __init__(self, names: Names):
        self.tables = {_fold(source): target for source, target in names.tables.items()}
        self.columns: dict[str, list[_Column]] = {}
        for source, columns in names.columns.items():
            types = names.types.get(names.tables.get(source, ""), {})
            self.columns[_fold(source)] = [_Column(_fold(s), t, types.get(t)) for s, t in columns.items()]

    def target_of(self, table: str) -> str:
        if _fold(table) not in self.tables:
            raise _Untranslatable(f"unknown table {table}")
        return self.tables[_fold(table)]

    def columns_of(self, table: str) -> list[_Column]:
        self.target_of(table)
        if _fold(table) not in self.columns:
            raise _Untranslatable(f"columns of {table} unknown")
        return self.columns[_fold(table)]


def _find(columns: list[_Column], name: str) -> _Column | None:
    return next((c for c in columns if c.name == _fold(name)), None)


def _bind(col: exp.Column, column: _Column) -> list[tuple[exp.Expression, exp.Expression | None]]:
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

    def resolve(self, query: exp.Query) -> None:
        """Rename in place; raise _Untranslatable for an unknown table or an unresolvable column."""
        scopes = traverse_scope(query)
        for scope in scopes:
            self.sources_of(scope)  # read every FROM before any table is renamed
        done: set[int] = set()
        for scope in scopes:
            for col in _columns_of(scope):
                if id(col) not in done:  # an outer scope lists its subqueries' columns again
                    self.resolve_column(col, scope)
                    done.add(id(col))
            if isinstance(scope.expression, exp.Select):
                self.resolve_stars_and_using(scope)
            self.outputs[id(scope.expression)] = self.outputs_of(scope)
        targets = [c.target for c in self.outputs[id(query)]]
        if len(set(targets)) != len(targets):
            raise _Untranslatable("the view would have two columns of one name")  # Postgres refuses it
        _apply(self.renames)
        for col in query.find_all(exp.Column):
            if not isinstance(col.this, exp.Star) and "pg_type" not in col.meta:
                raise _Untranslatable(f"column {col.sql()} not resolved")

    def sources_of(self, scope: Scope) -> dict[str, _Source]:
        if id(scope) not in self.sources:
            sources = {}
            for name, (_, source) in scope.selected_sources.items():
                if isinstance(source, exp.Table):
                    sources[_fold(name)] = self.table_source(source)
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
        for output in query.expressions:
            if isinstance(output, exp.Star):
                out += [c for s in sources.values() for c in self.columns(s)]
            elif isinstance(output, exp.Column) and isinstance(output.this, exp.Star):
                out += self.columns(sources[_fold(output.table)])
            elif isinstance(output, exp.Alias):
                out.append(_Column(_fold(output.alias), _fold(output.alias), _kind(output.this)))
            elif isinstance(output, exp.Column) and "visible" in output.meta:
                out.append(_Column(output.meta["visible"], output.meta["target"], output.meta["pg_type"]))
            else:
                out.append(_Column(None, None, _kind(output)))
        cte = query.parent if isinstance(query.parent, exp.CTE) else None
        names = cte.args["alias"].columns if cte and cte.args.get("alias") else []
        if names:
            if len(names) != len(out):
                raise _Untranslatable("CTE column list does not match its query")
            out = [_Column(_fold(n.name), _fold(n.name), c.pg_type) for n, c in zip(names, out)]
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
    if isinstance(node, exp.Paren):
        return _kind(node.this)
    if isinstance(node, exp.Column):
        return node.meta.get("pg_type")
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
            raise _Untranslatable(f"{kinds[0]} compared with {kind}")


def _cast(node: exp.Expression, pg_type: str) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(pg_type, dialect="postgres"))


def _is_01(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this in ("0", "1")


def _text_operand(node: exp.Expression) -> exp.Expression:
    """`node` where SQLite reads text: an integer becomes its digits, as SQLite makes them; a real or
    a converted column would print differently in Postgres."""
    kind = _kind(node)
    if isinstance(node, exp.Null) or (kind and _family(kind) == "text"):
        return node
    if kind in _INTEGER_TYPES:
        return _cast(node, "text")
    raise _Untranslatable(f"{kind or 'a value of unknown type'} read as text")


def _number_operand(node: exp.Expression) -> exp.Expression:
    kind = _kind(node)
    if kind is not None and _family(kind) != "number":
        raise _Untranslatable(f"{kind} read as a number")
    return node


# --- the rewrite, node by node, children first ----------------------------------------------------

def _to_postgres(node: exp.Expression) -> str:
    return _rewrite(node).sql(dialect="postgres", identify=True, comments=False)


def _rewrite(node: exp.Expression) -> exp.Expression:
    """`node` in Postgres terms. A boolean where Postgres wants a value is read as the 0/1 SQLite
    stored (`sum(resolved)`); the rules below handle comparisons and conditions."""
    boolean_place = _takes_boolean(node)
    for child in list(node.iter_expressions()):
        key, index = child.arg_key, child.index
        new = _rewrite(child)
        if new is not child:
            node.set(key, new, index)
    rule = _RULES.get(type(node))
    new = rule(node) if rule else node
    if _kind(new) == "boolean" and not boolean_place:
        new = _cast(new, "integer")
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
    left, right = node.this, node.expression
    if _kind(left) == "boolean" and _is_01(right):
        right = exp.Boolean(this=right.this == "1")
    elif _kind(right) == "boolean" and _is_01(left):
        left = exp.Boolean(this=left.this == "1")
    left, right = _boolean_as_number(left, right), _boolean_as_number(right, left)
    _require_comparable(left, right)
    node.set("this", left)
    node.set("expression", right)
    return node


def _boolean_as_number(side: exp.Expression, other: exp.Expression) -> exp.Expression:
    """A boolean compared with a number: the 0/1 SQLite stored (`resolved = priority`)."""
    other_kind = _kind(other)
    if _kind(side) == "boolean" and other_kind and _family(other_kind) == "number":
        return _cast(side, "integer")
    return side


def _rule_ordering(node: exp.Binary) -> exp.Expression:
    _require_comparable(node.this, node.expression)
    return node


def _rule_between(node: exp.Between) -> exp.Expression:
    _require_comparable(node.this, node.args["low"], node.args["high"])
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
    """SQLite's LIKE ignores ASCII case and has no escape character unless one is named; Postgres'
    ILIKE ignores case and reads backslash as an escape, so a pattern that could hold one gets ESCAPE ''."""
    pattern = _text_operand(node.expression)
    ilike = exp.ILike(this=_text_operand(node.this), expression=pattern, negate=node.args.get("negate"))
    plain = isinstance(pattern, exp.Literal) and "\\" not in pattern.this
    if isinstance(node.parent, exp.Escape) or plain:
        return ilike
    return exp.Escape(this=ilike, expression=exp.Literal.string(""))


def _rule_escape(node: exp.Escape) -> exp.Expression:
    if not isinstance(node.expression, exp.Literal) or not node.expression.is_string:
        raise _Untranslatable("ESCAPE that is not a string")
    return node


def _nonzero_number(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and float(node.this) != 0


def _rule_arithmetic(node: exp.Binary) -> exp.Expression:
    _number_operand(node.this)
    _number_operand(node.expression)
    if isinstance(node, exp.Div) and _nonzero_number(node.expression):
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
    _number_operand(node.this)
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


def _rule_length(node: exp.Length) -> exp.Expression:
    if _kind(node.this) == "bytea":
        return node  # bytes in both
    node.set("this", _text_operand(node.this))
    return node


def _rule_substring(node: exp.Substring) -> exp.Expression:
    # SQLite counts a negative start from the end and a negative length backwards; Postgres does not.
    for key in ("start", "length"):
        value = node.args.get(key)
        if value is not None and not (isinstance(value, exp.Literal) and value.is_int):
            raise _Untranslatable("substr() with a computed or negative position")
    node.set("this", _text_operand(node.this))
    return node


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
    if name == "unixepoch" and _is_now(args):
        return _epoch_now()
    if name == "json_valid" and len(args) == 1 and _kind(args[0]) == "jsonb":
        # jsonb holds only valid JSON; json_valid(NULL) is NULL, which a CHECK lets through.
        return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=args[0], expression=exp.Null())),
                                    true=exp.Boolean(this=True))])
    raise _Untranslatable(f"function {name}() is not translated")


def _rule_date(node: exp.Date) -> exp.Expression:
    args = [a for a in node.iter_expressions()]
    if len(args) == 1 and _is_now(args):
        return exp.CurrentDate()
    raise _Untranslatable("date() of anything but 'now'")


def _rule_time_to_str(node: exp.TimeToStr) -> exp.Expression:
    value, fmt = node.this, node.args.get("format")
    now = isinstance(value, exp.TsOrDsToTimestamp) and _is_now([value.this])
    if now and isinstance(fmt, exp.Literal) and fmt.this == "%s":
        return _epoch_now()
    raise _Untranslatable("strftime() of anything but '%s', 'now'")


def _rule_aggregate_text(node: exp.GroupConcat) -> exp.Expression:
    separator = node.args.get("separator")
    if isinstance(node.this, exp.Distinct) or (separator is not None and not (isinstance(separator, exp.Literal) and separator.is_string)):
        raise _Untranslatable("group_concat() with DISTINCT or a computed separator")
    node.set("this", _text_operand(node.this))
    return node


def _rule_min_max(node: exp.Expression) -> exp.Expression:
    if node.expressions or _kind(node.this) == "jsonb":
        raise _Untranslatable("min()/max() of several values or of jsonb")
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


_RULES = {
    exp.EQ: _rule_comparison, exp.NEQ: _rule_comparison,
    exp.NullSafeEQ: _rule_comparison, exp.NullSafeNEQ: _rule_comparison,
    exp.GT: _rule_ordering, exp.GTE: _rule_ordering, exp.LT: _rule_ordering, exp.LTE: _rule_ordering,
    exp.Between: _rule_between, exp.In: _rule_in, exp.Is: _rule_is,
    exp.Like: _rule_like, exp.Escape: _rule_escape,
    exp.Add: _rule_arithmetic, exp.Sub: _rule_arithmetic, exp.Mul: _rule_arithmetic, exp.Div: _rule_arithmetic,
    exp.Mod: _rule_mod, exp.Neg: _rule_number_function, exp.Abs: _rule_number_function,
    exp.Sum: _rule_number_function, exp.Avg: _rule_number_function, exp.Round: _rule_round,
    exp.DPipe: _rule_text_function, exp.Lower: _rule_text_function, exp.Upper: _rule_text_function,
    exp.Replace: _rule_text_function, exp.StrPosition: _rule_text_function, exp.Trim: _rule_trim,
    exp.Length: _rule_length, exp.Substring: _rule_substring,
    exp.Coalesce: _rule_same_kind, exp.Nullif: _rule_same_kind, exp.Case: _rule_case, exp.If: _rule_if,
    exp.And: _rule_condition, exp.Or: _rule_condition, exp.Not: _rule_condition,
    exp.Where: _rule_condition, exp.Having: _rule_condition, exp.Join: _rule_join,
    exp.Cast: _rule_cast, exp.Anonymous: _rule_anonymous, exp.Date: _rule_date, exp.TimeToStr: _rule_time_to_str,
    exp.GroupConcat: _rule_aggregate_text, exp.Min: _rule_min_max, exp.Max: _rule_min_max,
    exp.Ordered: _rule_ordered, exp.Group: _rule_group, exp.Limit: _rule_limit, exp.Offset: _rule_limit,
}
