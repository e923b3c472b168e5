"""The canonical form verification compares: `jsonb_text` must print JSON exactly as Postgres
prints `'...'::jsonb::text`, or verification would fail every table holding JSON. Each case is
checked against the real server."""

from __future__ import annotations

import pytest

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
