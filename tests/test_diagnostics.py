"""Golden tests for diagnostics: every spec mistake is an ArchcError with a message, a source
span (file, line, column) whose caret underlines the offending text, suggestions for misspelt
names and the chain of block instances; and the CLI renders them without tracebacks.

Tests marked xfail(strict=True) describe the correct behaviour for a diagnostic that is
currently missing, mislocated or unhelpful; each reason says what happens today.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archc
from archc import ArchcError
from archc.cli import main

# ------------------------------------------------------------------ helpers


def spec_file(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def compile_error(path: Path, **params: Any) -> ArchcError:
    with pytest.raises(ArchcError) as info:
        archc.network(path, **params)
    return info.value


def underlined(error: ArchcError) -> str:
    """The source text above the carets of the rendered diagnostic."""
    lines = error.render().splitlines()
    source, carets = lines[1], lines[2]
    return source[carets.index("^"):carets.rindex("^") + 1]


def assert_located(error: ArchcError, path: Path, message: str, line: int, column: int,
                   underline: str | None = None) -> None:
    """Message, span, and the rendering: header, quoted source line, caret under `column`."""
    assert error.message == message
    assert (error.span.path, error.span.line, error.span.column) == (str(path), line, column)
    rendered = error.render()
    assert str(error) == rendered
    head, source, carets, *_ = rendered.splitlines()
    assert head == f"{path}:{line}:{column}: error: {message}"
    gutter = f"{line:>5} | "
    assert source == gutter + path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert carets.startswith(" " * (len(gutter) - 2) + "| ")
    assert carets.index("^") == len(gutter) + column - 1
    if underline is not None:
        assert underlined(error) == underline


# ------------------------------------------------------------------ the golden table


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    message: str
    line: int
    column: int
    underline: str | None = None
    suggestion: str | None = None  # must be among error.suggestions
    expected: str | None = None  # substring of error.expected
    found: str | None = None  # substring of error.found
    note: str | None = None  # substring of one of error.notes
    params: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "yaml-syntax-error",
        """
        input: [3, 8, 8]
        layers:
          - conv(8, 3)
          - relu: x: y
        """,
        "YAML syntax error: mapping values are not allowed here", 4, 12, underline=":",
    ),
    Case(
        "unknown-top-level-key",
        """
        input: [3, 8, 8]
        layer:
          - conv(8, 3)
        """,
        "unknown key 'layer'", 2, 1, underline="layer", suggestion="layers", expected="layers",
    ),
    Case(
        "unsupported-format-version",
        """
        archc: 2
        input: [3, 8, 8]
        layers:
          - relu
        """,
        "unsupported format version", 1, 8, underline="2", expected="archc: 1",
    ),
    Case(
        "spec-is-a-list",
        """
        - conv(8, 3)
        - relu
        """,
        "a spec is a mapping with at least 'layers'", 1, 1, found="a list",
    ),
    Case(
        "unknown-op",
        """
        input: [3, 8, 8]
        layers:
          - cnov(8, 3)
        """,
        "unknown op or block 'cnov'", 3, 5, underline="cnov(8, 3)", suggestion="conv",
    ),
    Case(
        "unknown-block",
        """
        input: [3, 8, 8]
        blocks:
          stem:
            params: [c]
            body: conv(c, 3); relu
        layers:
          - stme(8)
        """,
        "unknown op or block 'stme'", 7, 5, underline="stme(8)", suggestion="stem",
    ),
    Case(
        "merge-written-as-call",
        """
        input: [3, 8, 8]
        layers:
          - concat(1)
        """,
        "'concat' is a merge: write it with branches", 3, 5, underline="concat(1)",
        expected="{concat: [branch, branch, ...]}",
    ),
    Case(
        "unknown-keyword-argument",
        """
        input: [3, 8, 8]
        layers:
          - conv(8, 3, strid=2)
        """,
        "conv has no argument 'strid'", 3, 16, underline="strid=2", suggestion="stride",
    ),
    Case(
        "unknown-keyword-argument-quoted",
        """
        input: [3, 8, 8]
        layers:
          - "conv(8, 3, strid=2)"
        """,
        "conv has no argument 'strid'", 3, 17, underline="strid=2", suggestion="stride",
    ),
    Case(
        "missing-required-argument",
        """
        input: [3, 8, 8]
        layers:
          - conv(8)
        """,
        "conv is missing its argument 'kernel_size'", 3, 5, underline="conv(8)",
        expected="conv(out_channels, kernel_size, stride=1",
    ),
    Case(
        "wrong-argument-type",
        """
        input: [3, 8, 8]
        layers:
          - conv(8, 3, stride='two')
        """,
        "conv: 'stride' must be an integer or a list of integers", 3, 16,
        underline="stride='two'", found="'two' (a string)",
    ),
    Case(
        "float-where-integer-needed",
        """
        input: [3, 8, 8]
        layers:
          - conv(16 / 2, 3)
        """,
        "conv: 'out_channels' must be an integer", 3, 10, underline="16 / 2",
        found="8.0 (a number)",
    ),
    Case(
        "too-many-positional-arguments",
        """
        input: [3, 8, 8]
        layers:
          - flatten
          - linear(10, true, 30)
        """,
        "linear takes 2 positional arguments", 4, 22, underline="30",
        expected="at most 2 (out_features, bias)", found="3",
    ),
    Case(
        "undefined-reference",
        """
        input: [3, 8, 8]
        layers:
          - name: conv(8, 3, padding=1)
          - relu
          - add:
              - '@nmae'
              - identity
        """,
        "undefined reference @nmae", 6, 10, underline="@nmae", suggestion="name",
    ),
    Case(
        "undefined-output",
        """
        input: [3, 8, 8]
        layers:
          - stem: conv(8, 3)
        outputs: [stme]
        """,
        "undefined reference @stme", 4, 10, suggestion="stem",
    ),
    Case(
        "duplicate-entry-name",
        """
        input: [3, 8, 8]
        layers:
          - stem: conv(8, 3)
          - stem: relu
        """,
        "duplicate name 'stem' in the network", 4, 5,
        note="names within one module must be unique",
    ),
    Case(
        "undefined-name-in-expression",
        """
        input: [3, 8, 8]
        params: {width: 8}
        layers:
          - conv(widht, 3)
        """,
        "undefined name 'widht'", 4, 10, underline="widht", suggestion="width",
    ),
    Case(
        "unknown-function",
        """
        input: [3, 8, 8]
        layers:
          - conv(mxa(4, 8), 3)
        """,
        "unknown function 'mxa'", 3, 10, underline="mxa(4, 8)", suggestion="max",
    ),
    Case(
        "bad-in-attribute",
        """
        input: [3, 8, 8]
        layers:
          - conv(in.chanels * 2, 3)
        """,
        "a shape has no attribute 'chanels'", 3, 10, underline="in.chanels",
        expected="c, h, w",
    ),
    Case(
        "in-attribute-undefined-for-rank",
        """
        input: [8]
        layers:
          - linear(in.h)
        """,
        "in.h is not defined for a [N, 8] input", 3, 12, underline="in.h",
    ),
    Case(
        "index-out-of-range",
        """
        input: [3, 8, 8]
        params: {widths: [8, 16]}
        layers:
          - conv(widths[2], 3)
        """,
        "index 2 is out of range", 4, 17, underline="2", expected="an index below 2",
    ),
    Case(
        "linear-explicit-wrong-in-features",
        """
        input: [3, 8, 8]
        layers:
          - flatten
          - linear(10, in_features=100)
        """,
        "linear: in_features=100 disagrees with the input, which has 192 features (its last dim)",
        4, 16,
        underline="in_features=100", expected="in_features=192", found="[N, 192]",
    ),
    Case(
        "linear-before-flatten-hint",
        """
        input: [3, 8, 8]
        layers:
          - linear(10, in_features=192)
        """,
        "linear: in_features=192 disagrees with the input, which has 8 features (its last dim)",
        3, 16,
        underline="in_features=192", note="flatten first? flatten gives [N, 192]",
    ),
    Case(
        "conv-negative-out-channels",
        """
        input: [3, 8, 8]
        layers:
          - conv(-8, 3)
        """,
        "conv: out_channels must be at least 1", 3, 10, underline="-8", found="-8",
    ),
    Case(
        "conv-kernel-larger-than-input",
        """
        input: [3, 8, 8]
        layers:
          - conv(8, 11)
        """,
        "conv: kernel larger than the padded input", 3, 5, underline="conv(8, 11)",
        expected="padded size ≥ 11", found="input [N, 3, 8, 8] with padding 0 gives 8",
    ),
    Case(
        "pool-output-size-zero",
        """
        input: [3, 8, 8]
        layers:
          - maxpool(2)
          - maxpool(2)
          - maxpool(2)
          - maxpool(2)
        """,
        "maxpool output size would be [N, 3, 0, 0]", 6, 5, underline="maxpool(2)",
        expected="sizes ≥ 1", found="[N, 3, 1, 1] → [N, 3, 0, 0]",
    ),
    Case(
        "groups-not-dividing-channels",
        """
        input: [3, 8, 8]
        layers:
          - conv(8, 3, groups=2)
        """,
        "conv: groups=2 does not divide the input channels (3)", 3, 16, underline="groups=2",
        expected="a divisor of 3",
    ),
    Case(
        "reshape-element-count",
        """
        input: [3, 8, 8]
        layers:
          - reshape(3, 8, 9)
        """,
        "reshape: the element count changes", 3, 13,
        expected="192 elements per sample", found="[3, 8, 9] = 216 elements",
    ),
    Case(
        "flow-list-splits-call",
        """
        input: [3, 8, 8]
        blocks:
          unit:
            params: [c]
            body: [conv(c, 3), relu]
        layers:
          - unit(8)
        """,
        "YAML split a layer at a comma inside a one-line [ ] list", 5, 12, underline="conv(c",
        found="'conv(c'", note="write a one-line sequence as `conv(64, 3); bn; relu`",
    ),
    Case(
        "syntax-error-in-layer-string",
        """
        input: [3, 8, 8]
        layers:
          - conv(8 3)
        """,
        "syntax error in layer", 3, 12, underline="3", expected="')', ','", found="'3'",
    ),
    Case(
        "syntax-error-braces-in-expression",
        """
        input: [3, 8, 8]
        layers:
          - 'conv({8}, 3)'
        """,
        "syntax error in layer", 3, 11, underline="{", found="'{'",
        note="lists are written with [ ] in expressions",
    ),
    Case(
        "division-by-zero",
        """
        input: [3, 8, 8]
        params: {width: 8, groups: 0}
        layers:
          - conv(width // groups, 3)
        """,
        "division by zero", 4, 10, underline="width // groups",
    ),
    Case(
        "repeat-negative-count",
        """
        input: [3, 8, 8]
        layers:
          - repeat: -1
            body: conv(8, 3)
        """,
        "repeat needs a count ≥ 0", 3, 13, underline="-1", found="-1",
    ),
    Case(
        "repeat-count-over-limit",
        """
        input: [3, 8, 8]
        layers:
          - repeat: 100000
            body: relu
        """,
        "repeat count 100000 is over the limit", 3, 13, underline="100000",
    ),
    Case(
        "unknown-key-in-if",
        """
        input: [3, 8, 8]
        layers:
          - if: in.c > 1
            then: relu
            esle: identity
        """,
        "unknown key 'esle' in if", 5, 5, underline="esle", suggestion="else",
    ),
    Case(
        "unknown-key-in-block",
        """
        input: [3, 8, 8]
        blocks:
          unit:
            params: [c]
            body: conv(c, 3)
            inlien: true
        layers:
          - unit(8)
        """,
        "unknown key 'inlien' in block 'unit'", 6, 5, underline="inlien", suggestion="inline",
    ),
    Case(
        "block-unknown-keyword",
        """
        input: [3, 8, 8]
        blocks:
          unit:
            params: [c, {k: 3}]
            body: conv(c, k)
        layers:
          - unit(8, kk=3)
        """,
        "block unit has no parameter 'kk'", 7, 13, underline="kk=3", suggestion="k",
        expected="unit(c, k)",
    ),
    Case(
        "block-missing-argument",
        """
        input: [3, 8, 8]
        blocks:
          unit:
            params: [c, k]
            body: conv(c, k)
        layers:
          - unit(8)
        """,
        "block unit is missing its argument 'k'", 7, 5, underline="unit(8)",
        expected="unit(c, k)",
    ),
    Case(
        "spec-parameter-without-value",
        """
        input: [3, 8, 8]
        params: [width]
        layers:
          - conv(width, 3)
        """,
        "parameter 'width' needs a value (-p width=...)", 2, 10, underline="width",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden_diagnostic(case: Case, tmp_path: Path) -> None:
    path = spec_file(tmp_path, case.text)
    error = compile_error(path, **case.params)
    assert_located(error, path, case.message, case.line, case.column, case.underline)
    if case.suggestion is not None:
        assert case.suggestion in error.suggestions
        assert f"did you mean '{case.suggestion}'" in error.render()
    if case.expected is not None:
        assert error.expected is not None and case.expected in error.expected
        assert f"  expected: {error.expected}" in error.render()
    if case.found is not None:
        assert error.found is not None and case.found in error.found
        assert f"  found:    {error.found}" in error.render()
    if case.note is not None:
        assert any(case.note in note for note in error.notes), error.notes


def test_golden_table_covers_at_least_twenty_mistakes() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 20


# ------------------------------------------------------------------ block instance chains


def test_concat_mismatch_inside_block_names_the_instance_and_call_site(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 32, 32]
        blocks:
          split:
            params: [c]
            body:
              concat:
                - conv(c, 1)
                - conv(c, 3)
        layers:
          - conv(8, 3, padding=1)
          - split(16)
        """)
    error = compile_error(path)
    assert_located(error, path, "concat branches disagree in height", 6, 7)
    assert underlined(error).startswith("concat")
    assert error.found == "branch 1 gives [N, 16, 32, 32], branch 2 gives [N, 16, 30, 30]"
    assert [frame.description for frame in error.frames] == ["split(16)"]
    call_site = error.frames[0].span
    assert (call_site.path, call_site.line, call_site.column) == (str(path), 11, 5)
    assert error.render().splitlines()[-1] == f"  in split(16) at {path}:11:5"


def test_add_channel_mismatch_in_residual_block(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        blocks:
          residual:
            params: [c]
            body:
              add:
                - conv(c, 3, padding=1)
                - '@in'
        layers:
          - conv(8, 3, padding=1)
          - residual(16)
        """)
    error = compile_error(path)
    assert_located(error, path, "add branches disagree: shapes", 6, 7)
    assert error.found == "branch 1 gives [N, 16, 8, 8], branch 2 gives [N, 8, 8, 8]"
    assert [frame.description for frame in error.frames] == ["residual(16)"]
    assert error.frames[0].span.line == 11
    assert f"  in residual(16) at {path}:11:5" in error.render()


def test_nested_blocks_list_frames_innermost_first(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        blocks:
          inner:
            params: [k]
            body: conv(8, k)
          outer:
            params: [k]
            body: relu; inner(k)
        layers:
          - outer(11)
        """)
    error = compile_error(path)
    assert_located(error, path, "conv: kernel larger than the padded input", 5, 11, "conv(8, k)")
    assert [(f.description, f.span.line, f.span.column) for f in error.frames] == [
        ("inner(11)", 8, 17),
        ("outer(11)", 10, 5),
    ]


def test_recursion_between_blocks(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        blocks:
          a:
            params: [c]
            body: conv(c, 1); b(c)
          b:
            params: [c]
            body: relu; a(c)
        layers:
          - a(8)
        """)
    error = compile_error(path)
    assert_located(error, path, "recursion between blocks: a → b → a", 8, 17, underline="a(c)")
    assert "a block cannot contain itself" in error.notes
    assert [(f.description, f.span.line) for f in error.frames] == [("b(8)", 5), ("a(8)", 10)]


# ------------------------------------------------------------------ parameter overrides


def test_unknown_parameter_override_suggests_the_declared_one(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        params: {num_classes: 10}
        layers:
          - flatten
          - linear(num_classes)
        """)
    error = compile_error(path, num_clases=3)
    assert error.message == "the spec has no parameter 'num_clases'"
    assert error.suggestions == ["num_classes"]
    assert error.expected == "num_classes"
    assert "did you mean 'num_classes'?" in error.render()


def test_unknown_parameter_override_is_not_blamed_on_line_1(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        params: {num_classes: 10}
        layers:
          - flatten
          - linear(num_classes)
        """)
    error = compile_error(path, num_clases=3)
    # either no source location (it came from the caller) or the params declaration
    assert error.span.line in (0, 2)


# ------------------------------------------------------------------ known problems (xfail)


def test_yaml_error_note_does_not_repeat_while(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "input: [3, 8, 8]\nlayers:\n\t- conv(8, 3)\n")
    error = compile_error(path)
    assert_located(error, path, "YAML syntax error: found character '\\t' that cannot start "
                   "any token", 3, 1)
    assert not any("while while" in note for note in error.notes), error.notes


def test_unquoted_reference_hints_to_quote_it(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - stem: conv(8, 3)
          - @stme
        """)
    error = compile_error(path)
    assert (error.span.line, error.span.column) == (4, 5)
    assert any("'@stme'" in note or "quote" in note for note in error.notes), error.notes


def test_yaml_error_points_at_the_offending_line(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(8, 3)
          relu
        """)
    error = compile_error(path)
    assert error.message.startswith("YAML syntax error")
    assert (error.span.line, error.span.column) == (4, 3)


def test_unclosed_bracket_gets_no_layer_split_hint(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8
        layers:
          - conv(8, 3)
        """)
    error = compile_error(path)
    assert error.message == "YAML syntax error: expected ',' or ']', but got ':'"
    assert not any("conv(64, 3); bn; relu" in note for note in error.notes), error.notes


@pytest.mark.parametrize("layer", ["conv(8, 3,\n      strid=2)", '"conv(8, 3,\n      strid=2)"'],
                         ids=["plain", "double-quoted"])
def test_multi_line_layer_string_is_located_on_the_right_line(tmp_path: Path,
                                                              layer: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(f"input: [3, 8, 8]\nlayers:\n  - {layer}\n", encoding="utf-8")
    error = compile_error(path)
    assert error.message == "conv has no argument 'strid'"
    assert (error.span.line, error.span.column) == (4, 7)
    assert underlined(error) == "strid=2"


def test_layer_syntax_error_expects_only_possible_tokens(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(8 3)
        """)
    error = compile_error(path)
    assert error.expected is not None
    assert "']'" not in error.expected


def test_positional_after_keyword_argument(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(out_channels=8, 3)
        """)
    error = compile_error(path)
    assert "positional" in error.message
    assert "given twice" not in error.message
    assert (error.span.line, error.span.column) == (3, 26)


def test_misspelt_block_body_key(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        blocks:
          unit:
            params: [c]
            bdoy: conv(c, 3)
        layers:
          - unit(8)
        """)
    error = compile_error(path)
    assert "bdoy" in error.message
    assert "body" in error.suggestions
    assert (error.span.line, error.span.column) == (5, 5)


def test_bad_in_attribute_suggests_c(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(in.chanels * 2, 3)
        """)
    error = compile_error(path)
    assert "c" in error.suggestions


def test_duplicate_name_underlines_the_name(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - stem: conv(8, 3)
          - stem: relu
        """)
    error = compile_error(path)
    assert (error.span.line, error.span.column) == (4, 5)
    assert underlined(error).startswith("stem")


def test_reshape_error_underlines_all_sizes(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - reshape(3, 8, 9)
        """)
    error = compile_error(path)
    assert underlined(error) == "3, 8, 9"


@pytest.mark.parametrize("expression", ["int(1e400)", "floor(1e400)", "2.0 ** 5000.0"])
def test_overflow_in_expression_is_an_archc_error(tmp_path: Path, expression: str) -> None:
    path = spec_file(tmp_path, f"""
        input: [3, 8, 8]
        layers:
          - conv({expression}, 3)
        """)
    error = compile_error(path)
    assert (error.span.line, error.span.column) == (3, 10)


def test_int_times_list_is_size_checked(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(len(200001 * [0]), 3)
        """)
    error = compile_error(path)
    assert_located(error, path, "value too large", 3, 14, underline="200001 * [0]")


def test_list_times_int_is_size_checked(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(len([0] * 200001), 3)
        """)
    error = compile_error(path)
    assert_located(error, path, "value too large", 3, 14, underline="[0] * 200001")


# ------------------------------------------------------------------ the command line

GOOD = """
    input: [3, 8, 8]
    layers:
      - conv(8, 3)
      - relu
    """
BAD = """
    input: [3, 8, 8]
    layers:
      - cnov(8, 3)
    """


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_check_good_spec_exits_0(tmp_path: Path) -> None:
    good = spec_file(tmp_path, GOOD, "good.yaml")
    code, out, err = cli("check", str(good))
    assert code == 0
    assert out.startswith(f"ok  {good}: good")
    assert err == ""


def test_cli_check_reports_the_bad_spec_with_source_and_caret(tmp_path: Path) -> None:
    good = spec_file(tmp_path, GOOD, "good.yaml")
    bad = spec_file(tmp_path, BAD, "bad.yaml")
    code, out, err = cli("check", str(good), str(bad))
    assert code == 1
    assert f"ok  {good}" in out
    lines = err.splitlines()
    assert lines[:4] == [
        f"{bad}:3:5: error: unknown op or block 'cnov'",
        "    3 |   - cnov(8, 3)",
        "      |     ^^^^^^^^^^",
        "  did you mean 'conv'?",
    ]
    assert lines[-1] == "1 of 2 specs failed"
    assert "Traceback" not in out + err


def test_cli_shapes_bad_spec_exits_1_without_traceback(tmp_path: Path) -> None:
    bad = spec_file(tmp_path, BAD, "bad.yaml")
    code, out, err = cli("shapes", str(bad))
    assert code == 1
    assert out == ""
    assert err.startswith(f"{bad}:3:5: error: unknown op or block 'cnov'\n")
    assert "Traceback" not in err


def test_cli_missing_spec_file(tmp_path: Path) -> None:
    code, _, err = cli("shapes", str(tmp_path / "absent.yaml"))
    assert code == 1
    assert f"no such spec file: {tmp_path / 'absent.yaml'}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["shapes", "{good}", "--bogus"], "No such option '--bogus'"),
        (["check"], "Missing argument 'SPECS...'"),
        (["shapes"], "Missing argument 'SPEC'"),
        (["shapes", "{good}", "--input", "3xx2"], "expected sizes like 3x224x224, got '3xx2'"),
        (["shapes", "{good}", "-p", "num_classes"], "expected name=value"),
        (["shapes", "{good}", "--format", "xml"], "'xml' is not one of"),
    ],
    ids=["unknown-option", "check-missing-argument", "shapes-missing-argument", "bad-input",
         "param-without-value", "bad-format"],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    good = spec_file(tmp_path, GOOD, "good.yaml")
    code, out, err = cli(*(arg.format(good=good) for arg in args))
    assert code == 2
    assert message in err
    assert "Usage:" in err
    assert "Traceback" not in out + err


def test_python_dash_m_archc_reports_errors_without_traceback(tmp_path: Path) -> None:
    good = spec_file(tmp_path, GOOD, "good.yaml")
    bad = spec_file(tmp_path, BAD, "bad.yaml")
    result = subprocess.run([sys.executable, "-m", "archc", "check", str(good), str(bad)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert f"ok  {good}" in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}:3:5: error: unknown op or block 'cnov'"
    assert lines[1] == "    3 |   - cnov(8, 3)"
    assert lines[2] == "      |     ^^^^^^^^^^"
    assert "Traceback" not in result.stdout + result.stderr


# ------------------------------------------------------------------ front end (issue 12)


@pytest.mark.parametrize("indicator", ["|", ">"])
def test_syntax_error_in_a_block_scalar_points_into_the_file(tmp_path: Path,
                                                             indicator: str) -> None:
    path = spec_file(tmp_path, f"""
        input: [3, 8, 8]
        layers:
          - {indicator}
            conv(8, 3);
            relu;
            conv(8, 3, stride=)
        """)
    error = compile_error(path)
    assert_located(error, path, "syntax error in layer", 6, 23, underline=")")


def test_alias_cycle_is_located_at_the_alias(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        blocks:
          unit: &u
            <<: *u
            body: relu
        layers:
          - unit
        """)
    error = compile_error(path)
    assert_located(error, path, "the alias '*u' refers to a node that contains it", 4, 9)


def test_tab_indentation_is_explained(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "input: [3, 8, 8]\nlayers:\n\t- conv(8, 3)\n")
    error = compile_error(path)
    assert "YAML does not allow tabs for indentation; use spaces" in error.notes
    assert (error.span.line, error.span.column) == (3, 1)


def test_misindented_item_is_explained(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(8, 3)
        - relu
        """)
    error = compile_error(path)
    assert (error.span.line, error.span.column) == (4, 1)
    assert any("indentation of this line does not match" in note for note in error.notes)


def test_unclosed_brace_in_text_form_is_located_at_the_brace(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        network n {
          input [3, 8, 8]
          block unit(c) {
            conv(c, 3)
          stem: unit(4)
          relu
        }
        """, "spec.arch")
    error = compile_error(path)
    assert_located(error, path, "this '{' is never closed", 3, 17, underline="{")


def test_homoglyph_in_a_layer_names_the_character_and_suggests(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - conv(8, 3)
          - rеlu
        """)
    error = compile_error(path)
    assert "CYRILLIC SMALL LETTER IE" in error.message
    assert error.suggestions == ["relu"]
    assert (error.span.line, error.span.column) == (4, 6)


def test_integer_of_4300_digits_is_a_located_error(tmp_path: Path) -> None:
    path = spec_file(tmp_path, f"input: [3, 8, 8]\nlayers:\n  - conv({'9' * 4300}, 3)\n")
    error = compile_error(path)
    assert error.message == "number too large"
    assert (error.span.line, error.span.column) == (3, 10)


def test_key_given_twice_in_an_entry(tmp_path: Path) -> None:
    path = spec_file(tmp_path, """
        input: [3, 8, 8]
        layers:
          - {concat: [conv(4, 1), conv(4, 1)], dim: 1, dim: 2}
        """)
    error = compile_error(path)
    assert_located(error, path, "key 'dim' is given twice", 3, 48, underline="dim")
