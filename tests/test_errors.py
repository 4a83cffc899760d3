"""archc.errors: how an ArchcError reads. The location, the source line with a caret under the
span (one line, several lines, lines with tabs and wide characters, the end of the file), what
was expected and found, notes, "did you mean" from `suggest`, the block instances that led
there, and an error that knows no place. Expected texts are written out in full here."""

from __future__ import annotations

import unicodedata

import pytest

import archc
from archc.errors import UNKNOWN_SPAN, ArchcError, Frame, Source, Span, suggest

TEXT = "network n {\n  input [4]\n  conv(64, 3)\n  lineer(10)\n}\n"
SOURCE = Source("net.arch", TEXT)


def span(line: int, column: int, end_line: int | None = None, end_column: int | None = None,
         source: Source | None = SOURCE) -> Span:
    return Span(source, line, column, end_line or line, end_column or column + 1)


# ------------------------------------------------------------------ the line and the caret


def test_a_span_on_one_line_is_underlined_exactly() -> None:
    error = ArchcError("unknown op or block 'lineer'", span(4, 3, end_column=9))
    assert error.render() == (
        "net.arch:4:3: error: unknown op or block 'lineer'\n"
        "    4 |   lineer(10)\n"
        "      |   ^^^^^^\n"
    ).rstrip("\n")
    assert str(error) == error.render()  # what a traceback shows is the same text


def test_a_one_character_span_and_an_empty_one_get_one_caret() -> None:
    for end in (6, 5):  # `(` and the empty span before it
        lines = ArchcError("here", span(3, 7, end_column=end + 2)).render().splitlines()
        assert lines[1] == "    3 |   conv(64, 3)"
    assert ArchcError("x", span(3, 7, end_column=8)).render().splitlines()[2] == "      |       ^"
    assert ArchcError("x", span(3, 7, end_column=7)).render().splitlines()[2] == "      |       ^"


def test_a_span_over_several_lines_is_underlined_to_the_end_of_its_first_line() -> None:
    lines = ArchcError("block", span(1, 9, end_line=5, end_column=2)).render().splitlines()
    assert lines == ["net.arch:1:9: error: block",
                     "    1 | network n {",
                     "      |         ^^^"]  # `n {`: the rest of line 1, the span's start


def test_the_gutter_widens_with_no_shift_of_the_caret_up_to_five_digits() -> None:
    text = "\n" * 12344 + "  bogus\n"
    lines = ArchcError("x", span(12345, 3, end_column=8, source=Source("f", text))).render()
    assert lines.splitlines()[1:] == ["12345 |   bogus", "      |   ^^^^^"]


def test_lines_end_at_line_feeds_only_and_a_carriage_return_is_not_shown() -> None:
    source = Source("crlf.yaml", "input: [4]\r\nlayers:\r\n  - bogus\r\n")
    assert source.line(3) == "  - bogus"
    lines = ArchcError("x", span(3, 5, end_column=10, source=source)).render().splitlines()
    assert lines[1:] == ["    3 |   - bogus", "      |     ^^^^^"]
    assert Source("ff", "a\x0cb\nc").line(1) == "a\x0cb"  # form feed: not a line break here


def display_width(text: str) -> int:
    """Terminal columns: tabs to the next multiple of 8, wide (East Asian W/F) characters 2."""
    column = 0
    for char in text:
        if char == "\t":
            column += 8 - column % 8
        else:
            column += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return column


def caret_columns(rendered: str, line: str, start: int, end: int) -> tuple[tuple[int, int],
                                                                             tuple[int, int]]:
    """(where the caret run starts, how wide it is) as shown, and where the span's text starts
    and how wide it is in the shown source line; `start` and `end` are 0-based indices."""
    shown, carets = rendered.splitlines()[1:3]
    assert shown.endswith(line)
    gutter = shown[: len(shown) - len(line)]
    first = carets.index("^")
    under = (display_width(carets[:first]), carets.count("^"))
    text = (display_width(gutter + line[:start]), display_width(line[start:end]))
    return under, text


def test_the_caret_stays_under_the_text_after_a_tab() -> None:
    line = "\tbogus(3)"
    source = Source("tab.arch", f"network n {{\n{line}\n}}\n")
    rendered = ArchcError("x", span(2, 2, end_column=7, source=source)).render()
    under, text = caret_columns(rendered, line, 1, 6)
    assert under == text


@pytest.mark.parametrize(("line", "start", "end"), [
    ('  x: "名前"; bogus(3)', 12, 17),  # wide characters before the span
    ("  名前(3)", 2, 4),  # wide characters in it
], ids=["before", "inside"])
def test_the_caret_stays_under_the_text_after_wide_characters(line: str, start: int,
                                                              end: int) -> None:
    source = Source("wide.arch", f"network n {{\n{line}\n}}\n")
    rendered = ArchcError("x", span(2, start + 1, end_column=end + 1, source=source)).render()
    under, text = caret_columns(rendered, line, start, end)
    assert under == text


def test_a_tab_through_the_api_points_at_the_column_after_it() -> None:
    # the column is counted in characters (a tab is one column, as compilers count); only
    # the drawing of the caret follows tab stops
    with pytest.raises(archc.ArchcError) as caught:
        archc.network("network n {\n\tinput [4]\n\tbogus(3)\n}\n")
    error = caught.value
    assert (error.span.line, error.span.column) == (3, 2)
    assert error.render().splitlines()[1] == "    3 | \tbogus(3)"


def test_a_span_at_the_end_of_the_file_points_past_the_last_character() -> None:
    source = Source("eof.arch", "network n {\n  input [4]\n  linear(3")
    lines = ArchcError("never closed", span(3, 11, source=source)).render().splitlines()
    assert lines[1:] == ["    3 |   linear(3", "      |           ^"]
    # a line past the last one (a file that ends with a line break) shows an empty line
    lines = ArchcError("eof", span(4, 1, source=Source("f", "a\nb\nc\n"))).render().splitlines()
    assert lines[1:] == ["    4 | ", "      | ^"]
    lines = ArchcError("eof", span(9, 1, source=Source("f", "a\n"))).render().splitlines()
    assert lines[1:] == ["    9 | ", "      | ^"]


def test_an_unclosed_bracket_through_the_api_points_at_the_end_of_the_text() -> None:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network("network n {\n  input [4]\n  linear(3\n")
    lines = caught.value.render().splitlines()
    assert lines[0].startswith("<string>:3:11: error: ")
    assert lines[1:3] == ["    3 |   linear(3", "      |           ^"]
    assert "  found:    the end of the text" in lines


# ------------------------------------------------------------------ what follows the caret


def test_expected_found_notes_suggestions_and_frames_in_that_order() -> None:
    error = ArchcError(
        "unknown op or block 'lineer'", span(4, 3, end_column=9),
        expected="an op or a block", found="'lineer'",
        notes=["hint: ops are listed by `archc ops`"],
        suggestions=suggest("lineer", ["linear", "relu", "conv", "lines"]),
        frames=[Frame("stage(64)", span(2, 3)), Frame("net", span(1, 1))])
    assert error.render().splitlines() == [
        "net.arch:4:3: error: unknown op or block 'lineer'",
        "    4 |   lineer(10)",
        "      |   ^^^^^^",
        "  expected: an op or a block",
        "  found:    'lineer'",
        "  hint: ops are listed by `archc ops`",
        "  did you mean 'linear', 'lines'?",
        "  in stage(64) at net.arch:2:3",
        "  in net at net.arch:1:1",
    ]


def test_frames_and_notes_added_on_the_way_out_come_after_the_first() -> None:
    error = ArchcError("bad", span(3, 3), notes=["first"], frames=[Frame("inner(1)", span(3, 3))])
    assert error.with_frame(Frame("outer(2)", span(2, 3))) is error
    assert error.with_notes(["second"]) is error
    lines = error.render().splitlines()
    assert lines[3:] == ["  first", "  second", "  in inner(1) at net.arch:3:3",
                         "  in outer(2) at net.arch:2:3"]


def test_only_the_parts_given_are_shown() -> None:
    assert ArchcError("m", span(2, 3), found="x").render().splitlines()[3:] == ["  found:    x"]
    assert ArchcError("m", span(2, 3), expected="").render().splitlines()[3:] == [
        "  expected: "]  # an empty expectation is still said: it was given
    assert len(ArchcError("m", span(2, 3)).render().splitlines()) == 3


def test_the_kind_heads_the_message() -> None:
    text = ArchcError("bias before bn", span(3, 3), kind="warning").render()
    assert text.startswith("net.arch:3:3: warning: bias before bn\n")


# ------------------------------------------------------------------ suggest


def test_suggest_gives_close_names_best_first_and_at_most_the_limit() -> None:
    names = ["conv", "conv_transpose", "linear", "relu", "relu6", "prelu", "gelu"]
    assert suggest("lienar", names) == ["linear"]
    closest, *rest = suggest("rellu", names)  # relu (8/9), then prelu and relu6 (8/10 each)
    assert closest == "relu" and sorted(rest) == ["prelu", "relu6"]
    assert suggest("rellu", names, limit=1) == ["relu"]
    assert suggest("zzz", names) == []
    assert suggest("conv", ["conv", "conv", "conv"]) == ["conv"]  # a candidate once
    assert suggest("x", []) == []


# ------------------------------------------------------------------ no place, or no source


def test_an_error_with_an_unknown_span_is_the_message_alone() -> None:
    error = ArchcError("the spec dict nests too deeply", notes=["flatten it"],
                       suggestions=["a"])
    assert error.span == UNKNOWN_SPAN and error.span.path == "<spec>"
    assert error.render() == ("error: the spec dict nests too deeply\n  flatten it\n"
                              "  did you mean 'a'?")


def test_a_span_without_source_text_gives_the_place_but_no_line() -> None:
    error = ArchcError("m", Span(None, 3, 4, 3, 6), expected="e")
    assert error.render() == "<spec>:3:4: error: m\n  expected: e"


def test_with_span_fills_in_only_an_unknown_place() -> None:
    error = ArchcError("m")
    assert error.with_span(span(4, 3)) is error and error.span == span(4, 3)
    error.with_span(span(2, 3))
    assert error.span == span(4, 3)  # the first place given stays
    assert error.render().startswith("net.arch:4:3: error: m\n    4 |   lineer(10)")


def test_shifted_moves_a_span_in_an_embedded_string_into_its_file() -> None:
    # `conv(64, 3)` at line 3, column 3 of the file; its `64` is 1:6-1:8 within the string
    inner = Span(SOURCE, 1, 6, 1, 8)
    moved = inner.shifted(3, 3)
    assert (moved.line, moved.column, moved.end_line, moved.end_column) == (3, 8, 3, 10)
    assert ArchcError("m", moved).render().splitlines()[2] == "      |        ^^"
    # a later line of the string keeps its column
    second = Span(SOURCE, 2, 4, 2, 6).shifted(3, 3)
    assert (second.line, second.column, second.end_line, second.end_column) == (4, 4, 4, 6)
    assert str(second) == "net.arch:4:4"
