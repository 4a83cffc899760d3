"""The YAML front end's messages: every mistake is a located ArchcError in the user's terms.

Block and quoted scalars are located character by character, alias cycles at the alias, deep
nesting at the bracket one level too deep, keys given twice at the second key, PyYAML's own
problems explained with a hint, and names with non-ASCII look-alikes refused with the
character's Unicode name and "did you mean".
"""

from __future__ import annotations

import pickle

import pytest

from archc.errors import ArchcError
from archc.frontend.yaml import MAX_DEPTH, parse_yaml

HEAD = "name: n\ninput: [3, 8, 8]\n"


def error_of(text: str) -> ArchcError:
    with pytest.raises(ArchcError) as caught:
        parse_yaml(text, "spec.yaml")
    return caught.value


def at(error: ArchcError) -> tuple[int, int]:
    return error.span.line, error.span.column


# ------------------------------------------------------------------ positions in scalars


@pytest.mark.parametrize("indicator", ["|", ">", "|-", ">-", "|+", "|2"])
def test_syntax_error_on_the_third_line_of_a_block_scalar(indicator: str) -> None:
    error = error_of(HEAD + f"layers:\n  - {indicator}\n    conv(8, 3);\n    relu;\n"
                            "    conv(8 3)\n")
    assert at(error) == (7, 12), error.render()
    assert error.found == "'3'"


def test_unknown_name_in_a_block_scalar_of_a_named_entry() -> None:
    import archc

    text = HEAD + "layers:\n  - feats: |\n      conv(4, 3)\n      relu\n      rellu\n"
    with pytest.raises(ArchcError) as caught:
        archc.network(text)
    assert at(caught.value) == (7, 7), caught.value.render()
    assert "relu" in caught.value.suggestions


def test_escapes_in_a_quoted_scalar_keep_positions() -> None:
    error = error_of(HEAD + 'layers:\n  - "pad(\\"a\\", 3 3)"\n')
    assert at(error) == (4, 19), error.render()  # the second 3, past two escapes


def test_single_quoted_scalar_over_two_lines_reads_its_value() -> None:
    # '' is a quote: the file's text is not the value, so the value is parsed, located
    spec = parse_yaml(HEAD + "layers:\n  - 'conv(8, 3,\n      padding=''same'')'\n")
    call = spec.body.entries[0]
    assert call.args[2].value.value == "same"  # type: ignore[union-attr]
    assert (call.args[2].span.line, call.args[2].span.column) == (5, 7)  # type: ignore[union-attr]


def test_comment_lookalike_inside_a_block_scalar_doc_is_not_a_comment() -> None:
    spec = parse_yaml(HEAD + "doc: |\n  first # not a comment\n  second\nlayers:\n"
                      "  - relu  # real\n")
    assert spec.doc == "first # not a comment\nsecond\n"
    assert [c.text for c in spec.comments] == [" real"]


# ------------------------------------------------------------------ the node graph


@pytest.mark.parametrize(("text", "line", "column"), [
    (HEAD + "layers: &x\n  - relu\n  - *x\n", 5, 5),
    (HEAD + "layers:\n  - &x [relu, *x]\n", 4, 15),
    (HEAD + "blocks:\n  a: &a\n    <<: *a\n    body: relu\nlayers:\n  - relu\n", 5, 9),
    (HEAD + "layers:\n  - &a {x: &b [*a]}\n", 4, 16),
])
def test_alias_cycles_are_reported_at_the_alias(text: str, line: int, column: int) -> None:
    error = error_of(text)
    assert "refers to a node that contains it" in error.message
    assert at(error) == (line, column), error.render()


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000])
def test_deep_flow_nesting_is_reported_at_the_bracket(depth: int) -> None:
    error = error_of(HEAD + "layers: " + "[" * depth + "relu" + "]" * depth + "\n")
    assert error.message.startswith("the spec nests too deeply")
    assert error.span.line == 3
    assert error.span.column == len("layers: ") + MAX_DEPTH, error.span


def test_deep_block_nesting_is_reported_on_its_line() -> None:
    lines = "".join("  " * (i + 1) + "-\n" for i in range(MAX_DEPTH + 5))
    error = error_of(HEAD + "layers:\n" + lines)
    assert error.message.startswith("the spec nests too deeply")
    assert 4 <= error.span.line <= 4 + MAX_DEPTH, error.render()


def test_nesting_just_within_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 3  # the top-level mapping and layers' list count too
    spec = parse_yaml(HEAD + "layers: " + "[" * depth + "relu" + "]" * depth + "\n")
    assert spec.body.entries


def test_alias_bomb_is_refused_before_expansion() -> None:
    text = HEAD + "a: &a [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]\n"
    for i in range(1, 8):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]\n"
    error = error_of(text + "layers: *a7\n")
    assert "spec too large" in error.message


@pytest.mark.parametrize(("text", "key", "line", "column"), [
    (HEAD + "layers:\n  - {concat: [relu, relu], dim: 1, dim: 2}\n", "dim", 4, 36),
    (HEAD + "blocks:\n  unit: relu\n  unit: conv(4, 3)\nlayers:\n  - unit\n", "unit", 5, 3),
    ("name: n\nparams: {a: 1, a: 2}\ninput: [3, 8, 8]\nlayers:\n  - relu\n", "a", 2, 16),
    (HEAD + "inputs:\n  x: [3]\n  x: [4]\nlayers:\n  - relu\n", "x", 5, 3),
    (HEAD + "layers:\n  - repeat: 2\n    body: relu\n    body: conv(4, 3)\n", "body", 6, 5),
    (HEAD + "layers:\n  - relu\nlayers:\n  - relu\n", "layers", 5, 1),
])
def test_a_key_given_twice_is_an_error_at_the_second(text: str, key: str, line: int,
                                                     column: int) -> None:
    error = error_of(text)
    assert error.message == f"key '{key}' is given twice"
    assert at(error) == (line, column), error.render()


# ------------------------------------------------------------------ PyYAML's problems


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    # a tab for indentation
    (HEAD + "layers:\n\t- relu\n", 4, 1, "tabs for indentation; use spaces"),
    # a list item indented differently from the one above
    (HEAD + "layers:\n  - conv(8, 3)\n - relu\n", 5, 2, "indentation of this line does not"),
    (HEAD + "layers:\n  - relu\n- relu\n", 5, 1, "indentation of this line does not"),
    # a missing colon after a key
    ("name: n\ninput [3, 8, 8]\nlayers:\n  - relu\n", 2, 1, "a ':' is missing"),
    # an unclosed quote, at the opening quote
    ('name: "n\ninput: [3, 8, 8]\nlayers:\n  - relu\n', 1, 7, "quote is never closed"),
    # an unclosed bracket, at the bracket
    ("name: n\ninput: [3, 8, 8\nlayers:\n  - relu\n", 2, 8, "'[' is not closed"),
    (HEAD + "layers:\n  - {a: relu\n  - relu\n", 4, 5, "'{' is not closed"),
    # a bracket that closes nothing
    ("name: n\ninput: [3, 8, 8]]\nlayers:\n  - relu\n", 2, 17, "closes nothing"),
    # a second ': ' in a value
    (HEAD + "layers:\n  - a: b: relu\n", 4, 9, "quote a value that contains ': '"),
    # a list item on its key's line
    (HEAD + "layers: - relu\n", 3, 9, "on the line of its key"),
    # reserved characters
    (HEAD + "layers:\n  - @stem\n", 4, 5, "quote a reference"),
    (HEAD + "layers:\n  - `relu`\n", 4, 5, "YAML reserves '`'"),
    (HEAD + "layers:\n  - *stem\n", 4, 5, "no anchor '&stem'"),
    (HEAD + 'layers:\n  - "pad(\\q)"\n', 4, 11, "not an escape YAML knows"),
])
def test_pyyaml_problems_are_explained_with_a_hint(text: str, line: int, column: int,
                                                   words: str) -> None:
    error = error_of(text)
    assert error.message.startswith("YAML syntax error: ")
    assert at(error) == (line, column), error.render()
    assert any(words in note for note in error.notes), error.render()
    assert any(note.startswith("hint: ") for note in error.notes), error.render()
    assert not any(note.startswith("while ") for note in error.notes), error.render()


def test_unbalanced_parenthesis_in_a_layer_names_the_call() -> None:
    error = error_of(HEAD + "layers:\n  - name: conv(3\n  - relu\n")
    assert at(error) == (4, 17)
    assert "hint: the '(' of `conv(` is never closed" in error.notes


def test_a_key_with_no_value_says_so() -> None:
    error = error_of(HEAD + "layers:\n  - a:\n  - relu\n")
    assert at(error) == (4, 7)
    assert any("no layer is written here" in note for note in error.notes)


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(("text", "line", "char", "suggestion"), [
    (HEAD + "layers:\n  - rеlu\n", 4, "CYRILLIC SMALL LETTER IE", "relu"),
    (HEAD + "layers:\n  - cоnv: conv(4, 3)\n", 4, "CYRILLIC SMALL LETTER O", "conv"),
    (HEAD + "layers:\n  - cοnv: conv(4, 3)\n", 4, "GREEK SMALL LETTER OMICRON", "conv"),
    (HEAD + "layers:\n  - ﬁlter: conv(4, 3)\n  - filter2: relu\n", 4, "LIGATURE FI", None),
    (HEAD + "layers:\n  - ｃｏｎｖ: conv(4, 3)\n", 4, "FULLWIDTH LATIN SMALL LETTER C", "conv"),
    (HEAD + "blocks:\n  unіt: relu\nlayers:\n  - unit\n", 4, "CYRILLIC SMALL LETTER BYELORUSSIAN",
     "unit"),
    ("name: n\nparams: {wіdth: 4}\ninput: [3, 8, 8]\nlayers:\n  - conv(width, 3)\n", 2,
     "CYRILLIC", "width"),
    ("name: n\ninputs: {іmage: [3, 8, 8]}\nlayers:\n  - relu\n", 2, "CYRILLIC", None),
    (HEAD + "layers:\n  - stem: relu\noutputs: [stеm]\n", 5, "CYRILLIC SMALL LETTER IE", "stem"),
    ("name: nеt\ninput: [3, 8, 8]\nlayers:\n  - relu\n", 1, "CYRILLIC", None),
    ("nаme: n\ninput: [3, 8, 8]\nlayers:\n  - relu\n", 1, "CYRILLIC SMALL LETTER A", "name"),
    (HEAD + "layers:\n  - repeat: 2\n    аs: i\n    body: relu\n", 5, "CYRILLIC", "as"),
    (HEAD + "layers:\n  - repeat: 2\n    as: і\n    body: relu\n", 5, "CYRILLIC", None),
    (HEAD + "layers:\n  - cоncat: [relu, relu]\n", 4, "CYRILLIC", "concat"),
    (HEAD + "layers:\n  - 'layer{і}': relu\n", 4, "CYRILLIC", None),
])
def test_non_ascii_names_are_refused_with_the_character_named(
        text: str, line: int, char: str, suggestion: str | None) -> None:
    error = error_of(text) if "outputs" not in text else _network_error(text)
    assert error.span.line == line, error.render()
    assert char in error.message, error.render()
    assert "not an ASCII letter" in error.message
    if suggestion is not None:
        assert suggestion in error.suggestions, error.render()


def _network_error(text: str) -> ArchcError:
    import archc

    with pytest.raises(ArchcError) as caught:
        archc.network(text)
    return caught.value


def test_ligature_is_never_folded_silently() -> None:
    error = error_of(HEAD + "layers:\n  - ﬁlter: conv(4, 3)\n")
    assert any("'filter'" in note for note in error.notes), error.render()


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("where", ["layers:\n  - conv(NUM, 3)\n", "params: {c: NUM}\n"
                                   "layers:\n  - conv(c, 3)\n"])
def test_an_integer_of_thousands_of_digits_is_located(where: str) -> None:
    text = HEAD + where.replace("NUM", "7" * 4300)
    error = error_of(text)
    assert error.message == "number too large"
    assert error.span.line in (3, 4)
    assert "4,300 digits" in (error.found or "")


def test_a_64_digit_integer_is_still_a_literal() -> None:
    spec = parse_yaml(HEAD + f"params: {{c: {'9' * 64}}}\nlayers:\n  - linear(c // {'9' * 63})\n")
    assert spec.params[0].default.value == int("9" * 64)  # type: ignore[union-attr]


def test_no_pickle_in_reading_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle was read")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    assert parse_yaml(HEAD + "layers:\n  - relu\n").body.entries


# ------------------------------------------------------------------ line breaks, merge keys


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_lines_count_as_yaml_counts_them(newline: str) -> None:
    import archc

    text = newline.join(["# a comment", "name: n", "input: [3, 8, 8]", "layers:", "  - relu",
                         "  - rellu", ""])
    with pytest.raises(ArchcError) as caught:
        archc.network(text)
    assert at(caught.value) == (6, 5), caught.value.render()
    assert "\r" not in caught.value.render()


def test_merge_keys_are_refused_where_they_are() -> None:
    error = error_of(HEAD + "blocks:\n  a: &a {body: relu}\n  b:\n    <<: *a\nlayers:\n  - a\n")
    assert error.message == "YAML merge keys ('<<') are not supported in a spec"
    assert at(error) == (6, 5)


def test_the_bounds_on_reading_grow_with_a_raised_token_limit() -> None:
    from archc import api
    from archc.frontend import expressions
    from archc.frontend import yaml as front

    assert (front.max_nodes(), expressions._max_lowered(), api.spec_bytes()) == (
        front.MAX_NODES, expressions.MAX_LOWERED, api.MAX_SPEC_BYTES)
    with expressions.token_limit(1_000_000):  # a 100,000-layer chain has about 650,000
        assert front.max_nodes() == 5_000_000
        assert expressions._max_lowered() == 2_000_000
        assert api.spec_bytes() == 50_000_000
