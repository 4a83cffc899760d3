"""The shipped LALR tables (archc/frontend/grammar.json): current for the grammar, read without
pickle, equivalent to a parser built from the grammar, and ignored when stale or damaged."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from lark import Lark

from archc.frontend import expressions, maketables, tables
from tests.conftest import ALL_SPECS

LAYERS = ["conv(64, 3, stride=2, padding=k // 2)", "@stem.branch1; bn; relu",
          "linear(in.c * 2 if a and not b else -3 ** 2)", "pool([2, 3], 'a\\n')"]
EXPRESSIONS = ["f(x)[0].c", "in.c // 2 + 1 <= 3 or none", "(1, 2.5e3, true)"]


@pytest.fixture
def fresh_parser() -> Iterator[None]:
    """parser() is cached per process: clear it so that the test loads the tables again."""
    expressions.parser.cache_clear()
    yield
    expressions.parser.cache_clear()


def built() -> Lark:
    return expressions.build_parser(expressions.grammar_text())


def test_shipped_tables_are_current_for_the_grammar() -> None:
    grammar = expressions.grammar_text()
    expected = tables.dumps(built(), tables.key(grammar, expressions.OPTIONS))
    assert tables.shipped() == expected, (
        f"archc/frontend/grammar.json is stale for grammar.lark or this lark version: run "
        f"`{tables.REGENERATE}` and commit the file")


def test_tables_are_written_reproducibly(tmp_path: Any) -> None:
    # lark numbers states by string hashes; the file must not change from run to run
    first = maketables.write_tables(tmp_path / "a.json").read_text()
    second = maketables.write_tables(tmp_path / "b.json").read_text()
    assert first == second == tables.shipped()


def test_no_pickle_is_read(monkeypatch: pytest.MonkeyPatch, fresh_parser: None) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle was read")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    parser = expressions.parser()
    assert parser.source_path == "<deserialized>"  # from grammar.json, not rebuilt
    assert parser.parse("conv(8, 3); relu", start="layer").data == "layer"


def test_loaded_parser_parses_as_the_built_one(fresh_parser: None) -> None:
    loaded, reference = expressions.parser(), built()
    assert loaded.source_path == "<deserialized>"
    for text in LAYERS:
        assert loaded.parse(text, start="layer") == reference.parse(text, start="layer")
    for text in EXPRESSIONS:
        assert loaded.parse(text, start="expression") == reference.parse(text,
                                                                          start="expression")
    for path in ALL_SPECS:
        if path.suffix == ".arch":
            text = path.read_text()
            assert loaded.parse(text, start="network") == reference.parse(text, start="network")


def test_stale_or_damaged_tables_are_ignored(monkeypatch: pytest.MonkeyPatch,
                                             fresh_parser: None) -> None:
    monkeypatch.setattr(tables, "key", lambda grammar, options: "another grammar")
    assert expressions.parser().source_path != "<deserialized>"
    expressions.parser.cache_clear()
    monkeypatch.undo()
    for damaged in ("{", "[]", '{"key": 1}', None):
        monkeypatch.setattr(tables, "shipped", lambda damaged=damaged: damaged)
        expressions.parser.cache_clear()
        parser = expressions.parser()
        assert parser.source_path != "<deserialized>"
        assert parser.parse("relu", start="layer").data == "layer"


def test_json_encoding_is_exact() -> None:
    value = {1: (0, {"@": 3}), "a": [(), {"$x": None}], (1, 2): 1.5, "t": True}
    assert tables.decode(tables.json.dumps(tables.encode(value))) == value
    with pytest.raises(TypeError):
        tables.encode({"postlex": object()})
