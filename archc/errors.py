"""Diagnostics: source spans, the ArchcError every spec mistake becomes, and its rendering.

Input: a span (file, line, column, end) and a message built by any stage.
Output: text in the compiler convention `path:line:col: error: message`, followed by the
source line with the offending text underlined, what was expected and found, the chain of
block instances that led there, and "did you mean" suggestions for misspelt names.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """The text a span points into: a file path (or `<string>`) and its contents."""

    path: str
    text: str = field(repr=False)

    def line(self, number: int) -> str:
        """Line `number` (1-based) as the parsers count lines: split at \n only."""
        lines = self.text.split("\n")
        return lines[number - 1].rstrip("\r") if 0 < number <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """A region of a spec: 1-based line and column, end exclusive, on one or more lines."""

    source: Source | None
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def path(self) -> str:
        return self.source.path if self.source else "<spec>"

    def shifted(self, line: int, column: int) -> Span:
        """A span relative to a string embedded at (line, column) of its file."""
        # the constructor, not dataclasses.replace: a large spec shifts a million spans
        return Span(self.source, self.line + line - 1,
                    self.column + (column - 1 if self.line == 1 else 0),
                    self.end_line + line - 1,
                    self.end_column + (column - 1 if self.end_line == 1 else 0))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


UNKNOWN_SPAN = Span(None, 0, 0, 0, 0)


@dataclass(frozen=True)
class Frame:
    """One block instance on the way to an error: `inception(64, ...) at file:line:col`."""

    description: str
    span: Span


class ArchcError(Exception):
    """Every mistake a spec (or a command line) can contain.

    Carries the span of the offending text, and optionally what was expected and what was
    found, suggestions for a misspelt name, extra notes and the block-instance chain.
    """

    def __init__(
        self,
        message: str,
        span: Span = UNKNOWN_SPAN,
        *,
        expected: str | None = None,
        found: str | None = None,
        notes: Iterable[str] = (),
        suggestions: Iterable[str] = (),
        frames: Iterable[Frame] = (),
        kind: str = "error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.expected = expected
        self.found = found
        self.notes = list(notes)
        self.suggestions = list(suggestions)
        self.frames = list(frames)
        self.kind = kind

    def with_frame(self, frame: Frame) -> ArchcError:
        self.frames.append(frame)
        return self

    def with_notes(self, notes: Iterable[str]) -> ArchcError:
        self.notes.extend(notes)
        return self

    def with_span(self, span: Span) -> ArchcError:
        """Attach a span if the error has none yet (raised by a stage that knows no source)."""
        if self.span.source is None and self.span.line == 0:
            self.span = span
        return self

    def render(self) -> str:
        return render(self)

    def __str__(self) -> str:
        return render(self)


def suggest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Close matches for a misspelt name, best first."""
    pool = sorted(set(candidates))
    return difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)


def _underline(text: str, start: int, end: int, column: int) -> str:
    """The caret line under text[start:end], drawn in terminal columns: a tab before the span
    is copied (the source line above keeps its tab, so both reach the same tab stop), a wide
    character (CJK, fullwidth: two columns) takes two spaces or two carets. `column` is where
    the text starts on the screen (the gutter's width)."""
    out: list[str] = []
    for index, char in enumerate(text[:max(end, start + 1)]):
        if char == "\t":
            width = 8 - column % 8
        else:
            width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        column += width
        if index < start:
            out.append("\t" if char == "\t" else " " * width)
        else:
            out.append("^" * width)
    line = "".join(out)
    return line if "^" in line else line + "^"  # a span past the end of the line


def render(error: ArchcError) -> str:
    span = error.span
    head = f"{error.kind}: {error.message}"
    if span.line:
        head = f"{span}: {head}"
    out = [head]
    if span.source is not None and span.line > 0:
        text = span.source.line(span.line)
        gutter = f"{span.line:>5} | "
        out.append(gutter + text)
        end = span.end_column if span.end_line == span.line else len(text) + 1
        out.append(" " * (len(gutter) - 2) + "| " + _underline(text, span.column - 1,
                                                                end - 1, len(gutter)))
    if error.expected is not None:
        out.append(f"  expected: {error.expected}")
    if error.found is not None:
        out.append(f"  found:    {error.found}")
    out.extend(f"  {note}" for note in error.notes)
    if error.suggestions:
        quoted = ", ".join(f"'{s}'" for s in error.suggestions)
        out.append(f"  did you mean {quoted}?")
    out.extend(f"  in {frame.description} at {frame.span}" for frame in error.frames)
    return "\n".join(out)
