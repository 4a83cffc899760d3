"""The printers (`archc fmt`, `archc convert`): exact for any text, multi-line docs kept
multi-line in YAML, and deep expressions (a 1,000-term sum) printed without recursion."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import archc
from archc.cli import main
from archc.frontend import ast
from archc.frontend.printer import (
    block_scalar,
    double_quoted,
    expression,
    print_text,
    print_yaml,
    yaml_scalar,
)
from archc.frontend.text import parse_text
from archc.frontend.yaml import parse_yaml
from tests.frontend.test_text import HOSTILE

TERMS = 1_000


def both_ways(spec: ast.Spec) -> None:
    """parse(print(spec)) == spec in both spellings, and printing is idempotent."""
    text, yaml_text = print_text(spec), print_yaml(spec)
    assert parse_text(text) == spec, text
    assert parse_yaml(yaml_text) == spec, yaml_text
    assert print_text(parse_text(text)) == text
    assert print_yaml(parse_yaml(yaml_text)) == yaml_text
    if not spec.comments:  # a '#' inside a string or doc is not a comment
        assert parse_text(text).comments == ()
        assert parse_yaml(yaml_text).comments == ()


def spec_with(layer: str, doc: str | None = None, block_doc: str | None = None) -> ast.Spec:
    lines = ["name: n"]
    if doc is not None:
        lines.append(f"doc: {double_quoted(doc)}")
    lines.append("input: [8]")
    if block_doc is not None:
        lines += ["blocks:", "  unit:", f"    doc: {double_quoted(block_doc)}",
                  "    body: relu"]
    lines += ["layers:", f"  - {yaml_scalar(layer)}"]
    return parse_yaml("\n".join(lines) + "\n")


# ------------------------------------------------------------------ deep expressions


@pytest.mark.parametrize("body", [
    " + ".join(["1"] * TERMS),
    " * ".join(["2"] * TERMS),
    " ** ".join(["1"] * TERMS),  # right-associative: deep on the other side
    "not " * TERMS + "true",
    "- " * TERMS + "x",
    "1 if a else " * TERMS + "2",
    "x" + "[0]" * TERMS,
    "in" + ".c" * TERMS,
], ids=["sum", "product", "power", "not", "negation", "conditional", "index", "attribute"])
def test_a_thousand_deep_expression_prints_in_both_spellings(body: str) -> None:
    spec = spec_with(f"linear({body})")
    both_ways(spec)
    call = spec.body.entries[0]
    assert isinstance(call, ast.Call)
    assert expression(call.args[0].value).replace(" ", "") == body.replace(" ", "")


@pytest.mark.parametrize(("source", "target"), [(".yaml", ".arch"), (".arch", ".yaml")])
def test_convert_a_thousand_term_sum(tmp_path: Path, source: str, target: str) -> None:
    total = " + ".join(["1"] * TERMS)
    spec = spec_with(f"linear({total})")
    path = tmp_path / f"spec{source}"
    path.write_text(print_yaml(spec) if source == ".yaml" else print_text(spec))
    out = tmp_path / f"out{target}"
    result = CliRunner().invoke(main, ["convert", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert archc.load(out) == spec


# ------------------------------------------------------------------ docs


def test_multi_line_doc_stays_a_block_scalar_in_yaml() -> None:
    text = ("archc: 1\nname: n\ndoc: |\n  First line.\n\n    indented, with 'quotes' and \"more\"\n"
            "  # not a comment\ninput: [8]\n\nlayers:\n  - relu\n")
    spec = parse_yaml(text)
    assert spec.doc == ("First line.\n\n  indented, with 'quotes' and \"more\"\n"
                        "# not a comment\n")
    assert print_yaml(spec) == text  # canonical already: fmt leaves it as it is
    both_ways(spec)


def test_text_form_doc_with_line_breaks_converts_to_a_block_scalar() -> None:
    spec = parse_text('network n {\n  doc "one\\ntwo"\n  input [8]\n\n  relu\n}\n')
    assert spec.doc == "one\ntwo"
    yaml_text = print_yaml(spec)
    assert "doc: |-\n  one\n  two\n" in yaml_text
    assert parse_yaml(yaml_text) == spec


def test_fmt_keeps_a_multi_line_doc_multi_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: n\ndoc: |\n  one\n  two\ninput: [8]\nlayers:\n- relu\n")
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == 0, result.output
    assert "doc: |\n  one\n  two\n" in path.read_text()
    assert archc.load(path).doc == "one\ntwo\n"


@pytest.mark.parametrize("doc", [*HOSTILE, "x" * 150 + "\t" + "y " * 40,
                                           "word " * 60, " \n", "\n\n", "a\n\n\nb\n",
                                           "  leading\nlines", "line\r\nbreaks\r\n"])
def test_hostile_docs_are_exact_in_both_spellings(doc: str) -> None:
    both_ways(spec_with("relu", doc=doc, block_doc=doc))


@pytest.mark.parametrize("doc", HOSTILE)
def test_hostile_docs_survive_a_file(tmp_path: Path, doc: str) -> None:
    spec = spec_with("relu", doc=doc)
    for name, text in (("s.arch", print_text(spec)), ("s.yaml", print_yaml(spec))):
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))  # no newline translation: bytes as printed
        assert archc.load(path) == spec, text


@pytest.mark.parametrize("value", HOSTILE)
def test_string_arguments_with_both_quote_kinds(value: str) -> None:
    spec = spec_with("relu")
    call = ast.Call("pad", (ast.Argument("mode", ast.Literal(value, spec.span), spec.span),),
                    spec.span)
    both_ways(ast.Spec(spec.name, spec.doc, (), spec.inputs, (), ast.Sequence((call,), spec.span),
                       (), spec.span))


# ------------------------------------------------------------------ scalars


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(HOSTILE))
def test_yaml_scalars_read_back_exactly(text: str) -> None:
    assert yaml.safe_load(f"k: {yaml_scalar(text)}") == {"k": text}
    assert yaml.safe_load(f"[{yaml_scalar(text, flow=True)}]") == [text]
    assert yaml.safe_load(f"k: {double_quoted(text)}") == {"k": text}
    block = block_scalar(text)
    if block is not None:
        document = f"k: {block[0]}\n" + "".join(f"  {line}\n" if line else "\n"
                                                 for line in block[1:])
        assert yaml.safe_load(document) == {"k": text}


# ------------------------------------------------------------------ non-finite numbers


@pytest.mark.parametrize(("written", "text_form"), [(".inf", "1e999"), ("-.inf", "-1e999")])
def test_infinity_reads_back_in_both_spellings(written: str, text_form: str) -> None:
    spec = parse_yaml(f"name: n\nparams: {{s: {written}}}\ninput: [8]\nlayers:\n"
                      "  - leaky_relu(negative_slope=s)\n")
    assert f"s = {text_form}" in print_text(spec)
    assert f"s: {written}" in print_yaml(spec)
    both_ways(spec)


def test_nan_stays_in_yaml_and_is_refused_by_the_text_form() -> None:
    from archc.errors import ArchcError

    spec = parse_yaml("name: n\nparams: {s: .nan}\ninput: [8]\nlayers:\n  - dropout(p=s)\n")
    assert parse_yaml(print_yaml(spec)) == spec  # nan equals nan in the AST
    with pytest.raises(ArchcError) as caught:
        print_text(spec)
    assert caught.value.message == "nan has no spelling in the text form"
    assert (caught.value.span.line, caught.value.span.column) == (2, 13)


def template_spec(name: str) -> ast.Spec:
    return parse_yaml("name: n\ninput: [8]\nlayers:\n  - repeat: 2\n    as: i\n    body:\n"
                      f"      - {yaml_scalar(name)}: relu\n")


@pytest.mark.parametrize("name", ["layer{i - + 1}", "layer{i}", "b{ i*2 }x{i // 2}",
                                  "s{'a' if i else 'c'}", 's{"a" if i else "c"}'])
def test_name_templates_keep_their_written_text(name: str) -> None:
    both_ways(template_spec(name))


def test_name_template_with_both_quotes_stays_in_yaml() -> None:
    from archc.errors import ArchcError

    spec = template_spec("s{'a\"b' if i else 'c'}")
    assert parse_yaml(print_yaml(spec)) == spec
    with pytest.raises(ArchcError) as caught:
        print_text(spec)
    assert "both kinds of quote" in caught.value.message
    assert caught.value.span.line == 7
