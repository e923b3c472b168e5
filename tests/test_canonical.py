"""The canonical form verification compares: `jsonb_text` must print JSON exactly as Postgres
prints `'...'::jsonb::text`, or verification would fail every table holding JSON. Each case is
checked against the real server."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlite2neon.canonical import jsonb_text

TRICKY_JSON = [
    # objects: keys ordered by byte length, then bytes
    '{"b": 1, "aa": 2, "a": 3}',
    '{"zzz": {"yy": {"x": [], "ww": {}}, "a": null}, "m": [1, {"bb": true, "c": false}]}',
    '{"é": 1, "e": 2, "ee": 3, "日": 4, "😀": 5, "Z": 6, "_": 7}',
    '{"": 0, " ": 1, "a b": 2}',
    # duplicate keys: the last one wins
    '{"a": 1, "b": 2, "a": 3}',
    '{"k": {"x": 1}, "k": [2]}',
    # unicode and escapes
    '"naïve 日本 😀"',
    '"\\u00e9\\u65e5\\ud83d\\ude00"',
    '"quote \\" backslash \\\\ slash \\/ end"',
    '"\\n\\t\\r\\b\\f"',
    '"\\u0001\\u001f\\u007f"',
    '"\u2028 \u2029"',
    '{"k\\"ey": "v\\\\al"}',
    # numbers
    '1.0', '1e2', '1E2', '1.5e3', '1.50e1', '1.0E+2', '12e-1', '1e-7', '-0', '-0.0', '0.10', '-0e-3', '0e10',
    '12345678901234567890', '-12345678901234567890.000100', '1e40', '3.141592653589793238462643383279',
    '[1.0, 1e2, -0, 0.10, 100, -1.5E-3]',
    # literals, empties and whitespace
    'true', 'false', 'null', '[]', '{}', '""',
    '  [ 1 ,2 , [ ] , { } ]  ',
    '\n{\n  "a" : [true,false,null]\n}\n',
    '[[[[["deep"]]]]]',
]


@pytest.mark.parametrize("text", TRICKY_JSON)
def test_jsonb_text_matches_postgres(pg, text):
    expected = pg.execute("SELECT %s::jsonb::text", [text]).fetchone()[0]
    assert jsonb_text(text) == expected


def test_jsonb_text_of_null_is_null():
    assert jsonb_text(None) is None


def test_jsonb_text_marks_invalid_json():
    # never equal to any Postgres jsonb text, so a row holding it cannot verify by accident
    assert jsonb_text("{not json").startswith("invalid json")


def test_jsonb_text_is_stable(pg):
    text = '{"b": [1.0, {"y": 2, "x": 1}], "a": "é"}'
    once = jsonb_text(text)
    assert jsonb_text(once) == once
    assert pg.execute("SELECT %s::jsonb::text", [once]).fetchone()[0] == once


def test_jsonb_texts_over_vectors_equals_the_value_by_value_rendering(monkeypatch):
    """The vector form keeps recent renderings between calls; whatever it keeps, each value comes out
    as `jsonb_text` renders it alone, NULL as NULL."""
    import pyarrow as pa

    from sqlite2neon import canonical

    monkeypatch.setattr(canonical, "RECENT_JSON", 6)  # small, so the kept values are dropped and refilled
    monkeypatch.setattr(canonical, "_recent", None)
    docs = ['{"b":1,"a":[1,2]}', '["x"]', None, '{"a": 1.50}', "not json", '["y", "z"]', '[]']
    vectors = [
        [docs[i % len(docs)] for i in range(40)],  # repeats: kept
        [f'{{"n": {i}}}' for i in range(30)] + [None],  # mostly new: rendered, not kept
        list(reversed(docs)) * 3,
        ['{"k": %d}' % i for i in range(8)] * 4,  # more distinct values than are kept
    ]
    for values in vectors:
        got = canonical._jsonb_texts(pa.array(values, type=pa.string())).to_pylist()
        assert got == [canonical.jsonb_text(v) for v in values]


# JSON at the edges of the DuckDB fast path (`canonical.jsonb_form`): plain arrays of strings in every
# spelling it takes, and what must go to `jsonb_text` instead (escapes Postgres decodes, a string
# ending in an escaped quote, whitespace, numbers, nesting, objects)
JSONB_FORM_EDGES = [
    '[]', '[""]', '["",""]', '["a"]', '["work","later","🙂"]', '["work", "later", "🙂"]', '["a","b", "c"]',
    '["日本","naïve","😀"]', '["a,b","c, d","e\\",\\"f"]', '["q\\"uote"]', '["back\\\\slash"]', '["a\\\\","b"]',
    '["a\\"","b"]', '["a\\",","b"]', '["\\",\\""]', '["\\"","\\""]', '["\\n\\t\\r\\b\\f"]', '["\\\\\\""]',
    '["\\/"]', '["\\u00e9"]', '["\\u0001"]', '["\\u0022"]', '["\u007f \u2028 \u2029"]', '["a" ,"b"]',
    '[ "a"]', '["a" ]', '["a",  "b"]', '["a",\n"b"]', ' ["a"]', '["a"] ', '[ ]', '[["a"]]', '["a",["b"]]',
    '[","]', '["a,","b"]', '["a", ",", "b"]', '[",",","]', '["a\\\\,","b"]', '[",a","b,"]',
    '[1.0, 1e2, -0]', '["a",1]', '[1,2]', '[true,null]', '{"b":"x","a":"y"}', '"a"', '1e2', '-0',
]


def _duck():
    import duckdb

    from sqlite2neon import canonical

    con = duckdb.connect()
    canonical.register(con)
    return con


def _duck_jsonb_forms(con, texts: list[str]) -> list[str]:
    from sqlite2neon.canonical import jsonb_form

    return [r[0] for r in con.execute(
        f"SELECT {jsonb_form('x.v')} FROM (SELECT unnest(?) AS v, generate_subscripts(?, 1) AS i) AS x ORDER BY x.i",
        [texts, texts]).fetchall()]


def _pg_jsonb_texts(pg, texts: list[str]) -> list[str]:
    return [r[0] for r in pg.execute(
        "SELECT v::jsonb::text FROM unnest(%s::text[]) WITH ORDINALITY AS x(v, i) ORDER BY i", [texts]).fetchall()]


def test_jsonb_form_matches_postgres_at_the_edges_of_its_fast_path(pg):
    assert _duck_jsonb_forms(_duck(), JSONB_FORM_EDGES) == _pg_jsonb_texts(pg, JSONB_FORM_EDGES)


def test_jsonb_form_computes_app_tag_lists_in_duckdb_and_leaves_the_rest_to_jsonb_text():
    import re

    from sqlite2neon.canonical import PLAIN_ARRAY

    plain = ['[]', '["work","later","🙂"]', '["q\\"uote", "back\\\\slash"]', '["a\\n"]']
    other = ['[ ]', '["\\/"]', '["\\u00e9"]', '["a",1]', '[["a"]]', '{"a":"b"}', '"a"', '["a"] ', '["a" ,"b"]',
             '["a\\u0001"]', '["a\x01"]', '[","]', '["a","b,"]']
    assert all(re.fullmatch(PLAIN_ARRAY[1:-1], t) for t in plain)
    assert not any(re.fullmatch(PLAIN_ARRAY[1:-1], t) for t in other)


def test_jsonb_form_of_null_is_null_and_a_text_not_stored_as_text_is_not_read_as_json():
    from sqlite2neon.canonical import jsonb_form

    con = _duck()
    assert con.execute(f"SELECT {jsonb_form('NULL::VARCHAR')}").fetchone()[0] is None
    # the text is read only where the value is text: elsewhere the value's own rendering
    form = jsonb_form("'[1]'", """'["a"]'""", "false")
    assert con.execute(f"SELECT {form}").fetchone()[0] == "[1]"


_JSON_CHARS = st.sampled_from(['"', "\\", ",", " ", "\n", "\t", "\x01", "\x1f", "\x7f", "/", "[", "]", "{", ":",
                               "a", "b", "é", "日", "😀", "\u2028"])


@st.composite
def _json_arrays(draw) -> str:
    """Arrays of strings spelled as apps and people write them: compact, spaced or loose, escaped
    minimally or fully (\\uXXXX), sometimes holding a number or an array."""
    items = draw(st.lists(st.text(_JSON_CHARS, max_size=6), max_size=5))
    ascii_only = draw(st.booleans())
    parts = [json.dumps(v, ensure_ascii=ascii_only) for v in items]
    if parts and draw(st.integers(0, 9)) == 0:
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(["1", "-0", "1.0", "1e2", "[]", '["x"]', "null"])))
    separators = st.sampled_from([",", ", ", ",", " ,", ",  ", ",\n"])
    text = parts[0] if parts else ""
    for p in parts[1:]:
        text += draw(separators) + p
    inside = draw(st.sampled_from(["", "", "", " "]))
    return "[" + inside + text + inside + "]"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_json_arrays(), min_size=1, max_size=40))
def test_jsonb_form_equals_postgres_jsonb_text_on_generated_arrays(pg, texts):
    assert _duck_jsonb_forms(_duck(), texts) == _pg_jsonb_texts(pg, texts)


def test_row_form_marks_each_value_and_null_and_joins_them_with_unit_separators():
    from sqlite2neon.canonical import row_form

    con = _duck()
    form = row_form(["NULL::VARCHAR", "''", "'a'"])
    assert con.execute(f"SELECT {form}").fetchone()[0] == "n\x1fv\x1fva"
    assert con.execute(f"SELECT {row_form([])}").fetchone()[0] == ""
