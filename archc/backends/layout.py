"""Generated Python laid out at 100 columns: a statement too long for one line is broken
inside its brackets, one argument or item per line with a trailing comma, as formatters
(black, ruff format) break it; an item still too long is broken the same way, inside out.

Input: lines of generated source, each statement on one line. Output: the same code, every
line that can be broken within the width. What is written stays as written: arguments keep
their own text (source segments, never re-printed), so literals and names are unchanged.
"""

from __future__ import annotations

import ast

WIDTH = 100
INDENT = "    "


def fit(lines: list[str], width: int = WIDTH) -> list[str]:
    """`lines` with each one longer than `width` broken inside its brackets where it can be."""
    out: list[str] = []
    for line in lines:
        out += _fit_line(line, width) if len(line) > width else [line]
    return out


def _fit_line(line: str, width: int) -> list[str]:
    indent = line[:len(line) - len(line.lstrip())]
    code = line.strip()
    tail = ""
    if code.endswith(","):  # an item of an argument list that spans lines: `Block(...),`
        code, tail = code[:-1], ","
    try:
        statement = ast.parse(code).body
    except SyntaxError:
        return [line]
    if len(statement) != 1 or not isinstance(statement[0], (ast.Assign, ast.Expr, ast.Return)):
        return [line]
    value = statement[0].value
    if value is None or value.end_col_offset is None:
        return [line]
    raw = code.encode()
    head, rest = _segment(raw, 0, value.col_offset), _segment(raw, value.end_col_offset)
    return _lines(raw, value, indent, head, rest + tail, width)


def _segment(raw: bytes, start: int, end: int | None = None) -> str:
    """The text of one line between two of ast's column offsets (which count UTF-8 bytes).
    ast.get_source_segment does the same for many lines, splitting the text on every call."""
    return raw[start:end].decode()


def _source(raw: bytes, node: ast.expr) -> str:
    return _segment(raw, node.col_offset, node.end_col_offset)


def _lines(raw: bytes, node: ast.expr, indent: str, head: str, tail: str,
           width: int) -> list[str]:
    one = f"{indent}{head}{_source(raw, node)}{tail}"
    parts = _parts(raw, node)
    if len(one) <= width or parts is None:
        return [one]
    opening, items, closing = parts
    out = [f"{indent}{head}{opening}"]
    for prefix, item in items:
        out += _lines(raw, item, indent + INDENT, prefix, ",", width)
    out.append(f"{indent}{closing}{tail}")
    return out


def _parts(raw: bytes, node: ast.expr) -> tuple[str, list[tuple[str, ast.expr]], str] | None:
    """A bracketed node as (its opening, its items each with a `name=` prefix or none, its
    closing); None for what has no brackets to break inside."""
    if isinstance(node, ast.Call) and (node.args or node.keywords):
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords):
            return None  # *args and **kwargs: left on one line rather than re-spelt
        items: list[tuple[str, ast.expr]] = [("", a) for a in node.args]
        items += [(f"{k.arg}=", k.value) for k in node.keywords]
        items.sort(key=lambda pair: (pair[1].lineno, pair[1].col_offset))
        return f"{_source(raw, node.func)}(", items, ")"
    if isinstance(node, ast.List) and node.elts:
        return "[", [("", e) for e in node.elts], "]"
    if isinstance(node, ast.Tuple) and len(node.elts) > 1 and _segment(
            raw, node.col_offset, node.col_offset + 1) == "(":
        return "(", [("", e) for e in node.elts], ")"
    return None
