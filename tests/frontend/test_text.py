"""The text form (.arch), the printers of both spellings, `archc convert` and `archc fmt`.

Properties: for every spec in the repository and for generated ASTs, parse(print(ast)) == ast
in both spellings, printing is idempotent, and a converted spec elaborates to the same graph.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archc
from archc.dims import BATCH
from archc.errors import UNKNOWN_SPAN, ArchcError
from archc.frontend import ast
from archc.frontend.printer import expression, print_text, print_yaml
from archc.frontend.text import parse_text
from archc.frontend.yaml import parse_yaml
from tests.conftest import ALL_SPECS, ROOT, run_cli, spec_id

S = UNKNOWN_SPAN
RESERVED = {"network", "block", "inline", "doc", "input", "outputs", "repeat", "if", "else",
            "in", "and", "or", "not", "true", "false", "none", "True", "False", "None",
            "concat", "add", "mul", "then", "as", "body", "params", "x"}


def load(path: Path) -> ast.Spec:
    """A spec file as written (what fmt and convert print: its imports as import lines)."""
    return archc.load(path, imports=False)


# ------------------------------------------------------------------ every spec in the repo


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_both_spellings_round_trip(path: Path) -> None:
    spec = load(path)
    text, yaml_text = print_text(spec), print_yaml(spec)
    assert parse_text(text) == spec
    assert parse_yaml(yaml_text) == spec
    assert print_text(parse_text(text)) == text  # idempotent
    assert print_yaml(parse_yaml(yaml_text)) == yaml_text


@pytest.mark.parametrize("path", ALL_SPECS, ids=spec_id)
def test_every_spec_is_in_canonical_layout(path: Path) -> None:
    text = path.read_text()
    spec = load(path)
    assert (print_text(spec) if path.suffix == ".arch" else print_yaml(spec)) == text, (
        f"run `archc fmt {path.relative_to(ROOT)}`")


@pytest.mark.parametrize("name", ["googlenet", "densenet", "torchvision/resnet18"])
def test_arch_twins_are_the_same_network(name: str) -> None:
    arch, yaml_spec = ROOT / "specs" / f"{name}.arch", ROOT / "specs" / f"{name}.yaml"
    if not load(yaml_spec).imports:  # resnet18.yaml is a variant of the ResNet family
        assert load(arch) == load(yaml_spec)
    a, b = archc.network(arch), archc.network(yaml_spec)
    assert [(n.op, n.attrs) for n in a.nodes()] == [(n.op, n.attrs) for n in b.nodes()]
    assert [n.shape for n in a.nodes()] == [n.shape for n in b.nodes()]
    assert [n.path for n in a.nodes()] == [n.path for n in b.nodes()]
    assert archc.source(arch) == archc.source(yaml_spec)


# ------------------------------------------------------------------ the grammar


def test_text_form_constructs() -> None:
    spec = parse_text("""
# comments anywhere
network demo(width = 8, deep = true) {
  doc "every construct"
  input image [3, 16, 16]
  input meta [4]

  block unit(out, k = 3) {
    conv(out, k, padding=k // 2)
    relu
  }

  inline block pair(out) { unit(out); unit(out) }

  stem: unit(width)
  concat(dim=1) {
    identity
    { conv(4, 1); relu }
  }
  repeat(2, i) "layer{i + 1}": unit(width * 2 ** i)
  if deep { pair(16) } else { identity }
  adaptive_avgpool(1); flatten
  head: concat { identity; @meta }
  side: { @stem; flatten }
  outputs head, side
}
""")
    assert spec.name == "demo" and spec.doc == "every construct"
    assert [i.name for i in spec.inputs] == ["image", "meta"]
    assert [(b.name, b.inline) for b in spec.blocks] == [("unit", False), ("pair", True)]
    kinds = [type(e).__name__ for e in spec.body.entries]
    assert kinds == ["Named", "Merge", "Repeat", "If", "Call", "Call", "Named", "Named"]
    assert [o.path for o in spec.outputs] == [("head",), ("side",)]
    network = archc.network(spec)
    assert network.output_shapes() == [(BATCH, 20), (BATCH, 8 * 16 * 16)]


def test_line_breaks_inside_brackets_are_spaces() -> None:
    spec = parse_text("network n {\n  input [3,\n    8, 8]\n  conv(8,\n       3)\n}\n")
    assert archc.network(spec).output_shapes() == [(BATCH, 8, 6, 6)]


def test_positions_point_into_the_arch_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.arch"
    path.write_text("network n {\n  input [3, 8, 8]\n  conv(8, 3, strid=2)\n}\n")
    with pytest.raises(ArchcError) as caught:
        archc.network(path)
    error = caught.value
    assert (error.span.path, error.span.line, error.span.column) == (str(path), 3, 14)
    assert "stride" in error.suggestions


@pytest.mark.parametrize(("text", "line", "column", "hint"), [
    ("network n {\n input [3, 8, 8]\n conv(8, 3) relu\n}", 3, 13,
     "separate statements with ';' or a line break"),
    ("network n {\n input [3, 8, 8]\n x = conv(8, 3)\n}", 3, 4,
     "name an entry with `name: layer`"),
    ("network n {\n input [3, 8, 8]\n stem: {\n conv(8, 3)\n", 3, 8,
     "a '{' is not closed (the one on line 3)"),
    ("network n {\n input [3, 8, 8]\n conv(8, 3)\n}\n}", 5, 1, "this '}' closes nothing"),
    ("network n {\n input [3, 8, 8]\n def f():\n}", 3, 6, "a spec is not Python"),
])
def test_syntax_errors_have_positions_and_hints(text: str, line: int, column: int,
                                                hint: str) -> None:
    with pytest.raises(ArchcError) as caught:
        parse_text(text, "x.arch")
    error = caught.value
    assert (error.span.line, error.span.column) == (line, column), error.render()
    assert any(hint in note for note in error.notes), error.notes


def test_a_call_with_branches_must_name_a_merge_of_the_registry() -> None:
    """The grammar reads any `name { ... }` as a merge; elaboration checks the name."""
    text = "network n {\n input [3, 8, 8]\n block1 { conv(8, 3) }\n}"
    parse_text(text, "x.arch")
    with pytest.raises(ArchcError) as caught:
        archc.network(parse_text(text, "x.arch"))
    error = caught.value
    assert (error.span.line, error.span.column) == (3, 2), error.render()
    assert any("to name a sequence, write `block1: { ... }`" in n for n in error.notes)
    with pytest.raises(ArchcError, match="did you mean 'concat'"):
        archc.network(parse_text(text.replace("block1", "cat"), "x.arch"))


def test_expected_tokens_are_words() -> None:
    with pytest.raises(ArchcError) as caught:
        parse_text("network n {\n input [3, 8, 8]\n conv(8, 3) relu\n}")
    assert caught.value.expected == "';', '{', '}' or a line break"


# ------------------------------------------------------------------ generated ASTs

names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in RESERVED and not keyword.iskeyword(n))
numbers = st.one_of(st.integers(-1000, 1000),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
# hostile text for docs and string literals: quotes of both kinds, backslash sequences,
# line breaks of every kind, tabs, control characters, unicode, comment and brace lookalikes
HOSTILE = ['"""', "'''", "\\x41", "\\", 'ends with "', "ends with '", "both ' and \"",
           "\t", "\r", "\r\n", "a\nb", "a\n", "a\n\n", "\n", "\n lead", "", " lead", "trail ",
           "é ﬁ 名", "\u2028", "\x85", "\x00", "\x1b[31m", "\ufeff", "# not a comment",
           "a # b", "{i}", "%s %d", "\\n", "\\'", "---", "- item", "key: value", "&a *a",
           "|", ">", "!!python/object", "  two  spaces  ", "\U0001f600"]
strings = st.one_of(
    st.from_regex(r"[a-z A-Z0-9_.'-]{0,8}", fullmatch=True),
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4).map("".join),
    st.text(st.characters(codec="utf-8"), max_size=12),
)


def literals() -> st.SearchStrategy[ast.Expr]:
    return st.one_of(numbers, strings, st.booleans(), st.none()).map(lambda v: ast.Literal(v, S))


def expressions() -> st.SearchStrategy[ast.Expr]:
    atoms = st.one_of(literals(), names.map(lambda n: ast.Name(n, S)), st.just(ast.InShape(S)))

    def extend(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        binary = st.tuples(st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "<", ">=",
                                            "and", "or"]), inner, inner)
        return st.one_of(
            binary.map(lambda t: ast.Binary(t[0], t[1], t[2], S)),
            st.tuples(st.sampled_from(["not", "+"]), inner).map(
                lambda t: ast.Unary(t[0], t[1], S)),
            inner.filter(lambda e: not isinstance(e, ast.Literal)).map(
                lambda e: ast.Unary("-", e, S)),
            st.tuples(inner, inner, inner).map(lambda t: ast.Conditional(t[0], t[1], t[2], S)),
            st.tuples(inner, inner).map(lambda t: ast.Index(t[0], t[1], S)),
            st.tuples(inner, st.sampled_from(["c", "h", "w"])).map(
                lambda t: ast.Attribute(t[0], t[1], S)),
            st.lists(inner, max_size=3).map(lambda items: ast.ListExpr(tuple(items), S)),
            st.tuples(names, st.lists(inner, max_size=2)).map(
                lambda t: ast.FunctionCall(t[0], tuple(t[1]), S)),
        )

    return st.recursive(atoms, extend, max_leaves=6)


def arguments() -> st.SearchStrategy[tuple[ast.Argument, ...]]:
    positional = st.lists(expressions(), max_size=2).map(
        lambda xs: [ast.Argument(None, x, S) for x in xs])
    keywords = st.dictionaries(names, expressions(), max_size=2).map(
        lambda d: [ast.Argument(k, v, S) for k, v in d.items()])
    return st.tuples(positional, keywords).map(lambda t: tuple(t[0] + t[1]))


def entries() -> st.SearchStrategy[ast.Entry]:
    calls = st.tuples(names, arguments()).map(lambda t: ast.Call(t[0], t[1], S))
    refs = st.lists(names, min_size=1, max_size=2).map(lambda p: ast.Ref(tuple(p), S))

    def extend(inner: st.SearchStrategy[ast.Entry]) -> st.SearchStrategy[ast.Entry]:
        keywords = st.dictionaries(names, expressions(), max_size=1).map(
            lambda d: tuple(ast.Argument(k, v, S) for k, v in d.items()))
        return st.one_of(
            st.lists(inner, max_size=3).map(lambda es: ast.Sequence(tuple(es), S)),
            st.tuples(names, inner).map(lambda t: ast.Named(t[0], t[1], S)),
            st.tuples(st.sampled_from(["concat", "add", "mul"]), st.lists(inner, min_size=1,
                                                                          max_size=3), keywords)
            .map(lambda t: ast.Merge(t[0], tuple(t[1]), t[2], S)),
            st.tuples(expressions(), st.none() | names, inner).map(
                lambda t: ast.Repeat(t[0], t[1], t[2], S)),
            st.tuples(expressions(), inner, st.none() | inner).map(
                lambda t: ast.If(t[0], t[1], t[2], S)),
        )

    return st.recursive(st.one_of(calls, refs), extend, max_leaves=8)


def params() -> st.SearchStrategy[tuple[ast.Param, ...]]:
    return st.dictionaries(names, st.none() | expressions(), max_size=3).map(
        lambda d: tuple(ast.Param(k, v, S) for k, v in d.items()))


specs = st.builds(
    lambda name, doc, ps, dims, blocks, body, outputs, training: ast.Spec(
        name, doc, ps, (ast.InputDecl("x", tuple(dims), S),), tuple(blocks),
        ast.Sequence(tuple(body), S), outputs[0], S, output_keys=outputs[1],
        training_outputs=training[0], training_output_keys=training[1]),
    names, st.none() | strings, params(), st.lists(expressions(), min_size=1, max_size=3),
    st.dictionaries(names, st.tuples(params(), entries(), st.booleans(), st.none() | strings),
                    max_size=2).map(lambda d: [ast.BlockDef(k, v[0], v[1], v[2], v[3], S)
                                               for k, v in d.items()]),
    st.lists(entries(), min_size=1, max_size=3),
    # outputs: a tuple of names, or a dict (keys and the names they return)
    st.lists(names.map(lambda n: ast.Ref((n,), S)), max_size=2).map(lambda r: (tuple(r), ()))
    | st.dictionaries(names, names, min_size=1, max_size=2).map(
        lambda d: (tuple(ast.Ref((v,), S) for v in d.values()), tuple(d))),
    # training outputs, likewise
    st.lists(names.map(lambda n: ast.Ref((n,), S)), max_size=2).map(lambda r: (tuple(r), ()))
    | st.dictionaries(names, names, min_size=1, max_size=2).map(
        lambda d: (tuple(ast.Ref((v,), S) for v in d.values()), tuple(d))),
)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_generated_asts_round_trip_in_both_spellings(spec: ast.Spec) -> None:
    text = print_text(spec)
    assert parse_text(text) == spec, text
    yaml_text = print_yaml(spec)
    assert parse_yaml(yaml_text) == spec, yaml_text


@settings(max_examples=200, deadline=None)
@given(expressions())
def test_generated_expressions_print_and_parse_back(expr: ast.Expr) -> None:
    from archc.frontend.expressions import parse_expression

    assert parse_expression(expression(expr)) == expr


# ------------------------------------------------------------------ the commands


def test_convert_both_ways_keeps_names_expressions_and_comments(tmp_path: Path) -> None:
    arch = tmp_path / "dense.arch"
    code, out, err = run_cli("convert", str(ROOT / "examples/constructs/dense_block.yaml"),
                             "-o", str(arch))
    assert code == 0, err
    text = arch.read_text()
    assert "conv(in.c // 2, 1)" in text and "repeat(layers, i) dense_layer(growth)" in text
    back = tmp_path / "dense.yaml"
    assert run_cli("convert", str(arch), "-o", str(back))[0] == 0
    assert back.read_text() == (ROOT / "examples/constructs/dense_block.yaml").read_text()
    code, out, _ = run_cli("convert", str(ROOT / "specs/lenet.yaml"), "--to", "arch")
    assert "# 16 x 5 x 5 = 400 features, inferred by the next linear" in out


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text((ROOT / "specs/mlp.yaml").read_text())
    code, _, err = run_cli("convert", str(spec), "-o", str(spec))
    assert code == 2 and "refusing to overwrite" in err


def test_fmt_rewrites_and_check_reports(tmp_path: Path) -> None:
    messy = tmp_path / "messy.arch"
    messy.write_text("network   m {input [4]\n  # the hidden layer\n  linear(8) ; relu\n"
                     "linear( 2 )}\n")
    code, out, _ = run_cli("fmt", "--check", str(messy))
    assert code == 1 and "would reformat" in out
    code, out, _ = run_cli("fmt", str(messy))
    assert code == 0 and "reformatted" in out
    assert messy.read_text() == ("network m {\n  input [4]\n\n  # the hidden layer\n"
                                 "  linear(8)\n  relu\n  linear(2)\n}\n")
    assert run_cli("fmt", "--check", str(messy)) == (0, "", "")


def test_fmt_reports_errors_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text("network n {\n  input [4]\n  linear(2\n}\n")
    code, _, err = run_cli("fmt", str(bad))
    # the mistake is the "(" left open on line 3, not the "}" the parser met next
    assert code == 1 and "bad.arch:3:9: error: this '(' is never closed" in err


# ------------------------------------------------------------------ hostile text-form input


@pytest.mark.parametrize(("text", "line", "column", "words", "suggestion"), [
    ("nеtwork n {\n  input [8]\n  relu\n}\n", 1, 2, "CYRILLIC SMALL LETTER IE", "network"),
    ("network n {\n  input [8]\n  rеlu\n}\n", 3, 4, "CYRILLIC SMALL LETTER IE", "relu"),
    ("network n {\n  input [8]\n  ﬁlter: relu\n}\n", 3, 3, "LIGATURE FI", None),
    ("network n {\n  input [8]\n  \"lаyer{1}\": relu\n}\n", 3, 3, "CYRILLIC SMALL LETTER A",
     None),
    ("network n {\n  input [8]\n  linear(in.c\u00a0* 2)\n}\n", 3, 14, "NO-BREAK SPACE", None),
    ("network n {\n  input [8]\n  pad(mode=\u201csame\u201d)\n}\n", 3, 12,
     "LEFT DOUBLE QUOTATION MARK", None),
])
def test_non_ascii_outside_strings_is_named(text: str, line: int, column: int, words: str,
                                            suggestion: str | None) -> None:
    with pytest.raises(ArchcError) as caught:
        parse_text(text, "x.arch")
    error = caught.value
    assert (error.span.line, error.span.column) == (line, column), error.render()
    assert words in error.message, error.render()
    if suggestion is not None:
        assert error.suggestions == [suggestion]


def test_unicode_inside_strings_and_comments_is_text() -> None:
    spec = parse_text('network n {  # ünïcode comment\n  doc "rеlu ﬁ 名"\n  input [8]\n'
                      '  pad(mode="ｓａｍｅ")\n}\n')
    assert spec.doc == "rеlu ﬁ 名"


@pytest.mark.parametrize("depth", [101, 3000])
def test_deep_brackets_in_the_text_form_are_located(depth: int) -> None:
    text = "network n {\n  input [8]\n  linear(" + "(" * depth + "1" + ")" * depth + ")\n}\n"
    with pytest.raises(ArchcError) as caught:
        parse_text(text, "x.arch")
    assert caught.value.message.startswith("the spec nests too deeply")
    # linear( is level 2 inside the network's braces: the 99th '(' after it opens level 101
    assert (caught.value.span.line, caught.value.span.column) == (3, 10 + 98)


def test_integer_literal_limit() -> None:
    spec = parse_text("network n {\n  input [8]\n  linear(" + "9" * 64 + " // " + "9" * 63
                      + ")\n}\n")
    assert spec.body.entries
    with pytest.raises(ArchcError) as caught:
        parse_text("network n {\n  input [8]\n  linear(" + "9" * 4300 + ")\n}\n", "x.arch")
    assert caught.value.message == "number too large"
    assert (caught.value.span.line, caught.value.span.column) == (3, 10)


def test_keyed_outputs_are_a_dict_in_both_spellings() -> None:
    text = """network seg {
  input [3, 16, 16]
  head: conv(4, 1)
  aux: { @x; conv(2, 1) }
  outputs out: head, aux: aux
}
"""
    spec = parse_text(text)
    assert spec.output_keys == ("out", "aux") and [o.path for o in spec.outputs] == [
        ("head",), ("aux",)]
    yaml_text = print_yaml(spec)
    assert "outputs: {out: head, aux: aux}" in yaml_text
    assert archc.load(yaml_text) == spec
    model = archc.build(text)
    result = model(torch.randn(1, 3, 16, 16))
    assert list(result) == ["out", "aux"] and result["out"].shape == (1, 4, 16, 16)
    assert "-> dict[str, torch.Tensor]:" in archc.source(text)
    assert 'return {"out": ' in archc.source(text)


def test_training_outputs_in_both_spellings() -> None:
    text = """network net {
  input [3, 16, 16]

  stem: conv(8, 3, padding=1)
  aux: { adaptive_avgpool(1); flatten; linear(2) }
  @stem
  head: { adaptive_avgpool(1); flatten; linear(4) }
  outputs head
  training outputs head, aux
}
"""
    spec = parse_text(text)
    assert [o.path for o in spec.training_outputs] == [("head",), ("aux",)]
    yaml_text = print_yaml(spec)
    assert "outputs: [head]\ntraining_outputs: [head, aux]\n" in yaml_text
    assert archc.load(yaml_text) == spec and print_text(spec) == text


@pytest.mark.parametrize(("outputs", "message"), [
    ("outputs out: head, aux", "outputs are all keyed (a dict) or none is"),
    ("outputs out: head, out: aux", "the output key 'out' is given twice"),
])
def test_keyed_outputs_refuse_mixtures_and_repeats(outputs: str, message: str) -> None:
    text = (f"network seg {{\n  input [3, 16, 16]\n  head: conv(4, 1)\n"
            f"  aux: {{ @x; conv(2, 1) }}\n  {outputs}\n}}\n")
    with pytest.raises(ArchcError, match=re.escape(message)):
        parse_text(text)
