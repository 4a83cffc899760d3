"""AST → spec text, in either spelling: the canonical layout of `archc fmt` and the output of
`archc convert`.

Input: an `ast.Spec` (with the comments of its source). Output: `.arch` text or YAML text that
parses back to an equal AST (the property tests check parse(print(ast)) == ast both ways).
Expressions are printed as written (parameter expressions, not their values), with the fewest
parentheses the grammar needs. Comments are put back before the statement they preceded, or
after it on its line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from archc.frontend import ast

WIDTH = 100

# binding strength, loosest first, as in grammar.lark
_TERNARY, _OR, _AND, _NOT, _COMPARE, _SUM, _TERM, _UNARY, _POWER, _POSTFIX, _ATOM = range(11)
_BINARY = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _TERM, "/": _TERM, "//": _TERM,
           "%": _TERM, "**": _POWER, "==": _COMPARE, "!=": _COMPARE, "<": _COMPARE,
           "<=": _COMPARE, ">": _COMPARE, ">=": _COMPARE}


def literal_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        if "\\" not in value and "\n" not in value and "'" not in value:
            return f"'{value}'"
        return quoted(value)
    return repr(value)


def quoted(text: str) -> str:
    """A string in double quotes, escaped as the grammar reads it."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def expression(expr: ast.Expr) -> str:
    """An expression as archc text, parenthesised only where the grammar needs it."""
    return _expression(expr)[0]


def _wrap(expr: ast.Expr, minimum: int) -> str:
    text, strength = _expression(expr)
    return text if strength >= minimum else f"({text})"


def _expression(expr: ast.Expr) -> tuple[str, int]:
    if isinstance(expr, ast.Literal):
        negative = isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool) \
            and expr.value < 0
        text = expr.raw if expr.raw is not None else literal_text(expr.value)
        return text, _UNARY if negative else _ATOM
    if isinstance(expr, ast.Name):
        return expr.id, _ATOM
    if isinstance(expr, ast.InShape):
        return "in", _ATOM
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(expression(i) for i in expr.items) + "]", _ATOM
    if isinstance(expr, ast.Unary):
        if expr.op == "not":
            return f"not {_wrap(expr.operand, _NOT)}", _NOT
        return f"{expr.op}{_wrap(expr.operand, _UNARY)}", _UNARY
    if isinstance(expr, ast.Binary):
        strength = _BINARY[expr.op]
        if expr.op == "**":
            left, right = _wrap(expr.left, _POSTFIX), _wrap(expr.right, _UNARY)
        elif strength == _COMPARE:
            left, right = _wrap(expr.left, _SUM), _wrap(expr.right, _SUM)
        else:
            left, right = _wrap(expr.left, strength), _wrap(expr.right, strength + 1)
        return f"{left} {expr.op} {right}", strength
    if isinstance(expr, ast.Conditional):
        body, test = _wrap(expr.body, _OR), _wrap(expr.test, _OR)
        return f"{body} if {test} else {_wrap(expr.orelse, _TERNARY)}", _TERNARY
    if isinstance(expr, ast.Index):
        return f"{_wrap(expr.value, _POSTFIX)}[{expression(expr.index)}]", _POSTFIX
    if isinstance(expr, ast.Attribute):
        value = _wrap(expr.value, _POSTFIX)
        if isinstance(expr.value, ast.Literal) and value[:1].isdigit():
            value = f"({value})"  # 3.c would read as the number 3. and a name
        return f"{value}.{expr.name}", _POSTFIX
    assert isinstance(expr, ast.FunctionCall)
    return f"{expr.func}({', '.join(expression(a) for a in expr.args)})", _POSTFIX


def arguments(args: Sequence[ast.Argument]) -> str:
    return ", ".join(expression(a.value) if a.name is None else f"{a.name}={expression(a.value)}"
                     for a in args)


def call(entry: ast.Call) -> str:
    return f"{entry.name}({arguments(entry.args)})" if entry.args else entry.name


def ref(entry: ast.Ref) -> str:
    return "@" + ".".join(entry.path)


def simple(entry: ast.Entry) -> str | None:
    """A call or reference on one line, else None."""
    if isinstance(entry, ast.Call):
        return call(entry)
    if isinstance(entry, ast.Ref):
        return ref(entry)
    return None


def name_text(entry: ast.Named) -> str:
    if not entry.template:
        return entry.name
    return "".join(p if isinstance(p, str) else "{" + expression(p) + "}"
                   for p in entry.template)


class _Comments:
    """Hands out the source's comments in line order as statements are printed."""

    def __init__(self, comments: Sequence[ast.Comment]) -> None:
        self.pending = sorted(comments, key=lambda c: (c.line, c.column))

    def before(self, line: int) -> list[str]:
        out = []
        while self.pending and self.pending[0].line < line:
            out.append("#" + self.pending.pop(0).text)
        return out

    def trailing(self, line: int) -> str:
        """The comment at the end of `line`, as a suffix; `\0` marks where alignment padding
        may go (resolved by `align`)."""
        if self.pending and self.pending[0].line == line:
            comment = self.pending.pop(0)
            return f"\0{comment.column}\0#{comment.text}"
        return ""

    def rest(self) -> list[str]:
        out = ["#" + c.text for c in self.pending]
        self.pending = []
        return out


def align(line: str) -> str:
    """Put a trailing comment at its source column when the code leaves room, else two spaces
    after the code."""
    if "\0" not in line:
        return line
    code, column, comment = line.split("\0", 2)
    code = code.rstrip()
    return code + " " * max(2, int(column) - 1 - len(code)) + comment


class _Printer:
    """Lines of output, indented by `unit` per level, with the source's comments to place."""

    unit = " "

    def __init__(self, spec: ast.Spec) -> None:
        self.spec = spec
        self.comments = _Comments(spec.comments)
        self.lines: list[str] = []

    def emit(self, indent: int, text: str) -> None:
        self.lines.append(self.unit * indent + text if text else "")

    def emit_comments(self, indent: int, line: int) -> None:
        for comment in self.comments.before(line):
            self.emit(indent, comment)


# ------------------------------------------------------------------ the text form


class TextPrinter(_Printer):
    unit = "  "  # levels of nesting

    def print(self) -> str:
        spec = self.spec
        self.emit_comments(0, spec.span.line)
        self.emit(0, f"network {spec.name}{self.parameters(spec.params)} {{")
        if spec.doc is not None:
            self.emit(1, f"doc {quoted(spec.doc)}")
        for decl in spec.inputs:
            self.emit_comments(1, decl.span.line)
            name = "" if len(spec.inputs) == 1 and decl.name == "x" else f"{decl.name} "
            dims = ", ".join(expression(d) for d in decl.dims)
            self.emit(1, f"input {name}[{dims}]" + self.comments.trailing(decl.span.line))
        for block in spec.blocks:
            self.emit(0, "")
            self.emit_comments(1, block.span.line)
            inline = "inline " if block.inline else ""
            self.emit(1, f"{inline}block {block.name}{self.parameters(block.params)} {{"
                      + self.comments.trailing(block.span.line))
            if block.doc is not None:
                self.emit(2, f"doc {quoted(block.doc)}")
            for entry in self.braced(block.body):
                self.statement(2, entry)
            self.emit(1, "}")
        self.emit(0, "")
        for entry in spec.body.entries:
            self.statement(1, entry)
        if spec.outputs:
            self.emit(1, "outputs " + ", ".join(".".join(o.path) for o in spec.outputs))
        for comment in self.comments.rest():
            self.emit(1, comment)
        self.emit(0, "}")
        return "\n".join(align(line) for line in self.lines) + "\n"

    @staticmethod
    def parameters(params: Sequence[ast.Param]) -> str:
        if not params:
            return ""
        parts = [p.name if p.default is None else f"{p.name} = {expression(p.default)}"
                 for p in params]
        return "(" + ", ".join(parts) + ")"

    @staticmethod
    def braced(entry: ast.Entry) -> Sequence[ast.Entry]:
        """The statements inside `{ }` that read back as `entry` (one statement is itself)."""
        if isinstance(entry, ast.Sequence) and len(entry.entries) > 1:
            return entry.entries
        return (entry,)

    def statement(self, indent: int, entry: ast.Entry, prefix: str = "") -> None:
        if not prefix:
            self.emit_comments(indent, entry.span.line)
        one_line = self.one_line(entry)
        if one_line is not None and len("  " * indent + prefix + one_line) <= WIDTH:
            self.emit(indent, prefix + one_line + self.comments.trailing(entry.span.end_line))
            return
        if isinstance(entry, ast.Named):
            self.statement(indent, entry.entry, f"{prefix}{self.label(entry)}: ")
        elif isinstance(entry, ast.Sequence):
            self.emit(indent, prefix + "{")
            for item in entry.entries:
                self.statement(indent + 1, item)
            self.emit(indent, "}")
        elif isinstance(entry, ast.Merge):
            head = f"{entry.op}({arguments(entry.args)})" if entry.args else entry.op
            self.emit(indent, f"{prefix}{head} {{")
            for branch in entry.branches:
                self.statement(indent + 1, branch)
            self.emit(indent, "}")
        elif isinstance(entry, ast.Repeat):
            self.statement(indent, entry.body, prefix + self.repeat_head(entry))
        elif isinstance(entry, ast.If):
            self.emit(indent, f"{prefix}if {expression(entry.test)} {{")
            for item in self.braced(entry.then):
                self.statement(indent + 1, item)
            if entry.orelse is None:
                self.emit(indent, "}")
            else:
                self.statement(indent, entry.orelse, "} else ")
        else:
            text = simple(entry)
            assert text is not None
            self.emit(indent, prefix + text + self.comments.trailing(entry.span.end_line))

    @staticmethod
    def label(entry: ast.Named) -> str:
        text = name_text(entry)
        return f'"{text}"' if entry.template else text

    @staticmethod
    def repeat_head(entry: ast.Repeat) -> str:
        var = f", {entry.var}" if entry.var else ""
        return f"repeat({expression(entry.count)}{var}) "

    def one_line(self, entry: ast.Entry) -> str | None:
        text = simple(entry)
        if text is not None:
            return text
        if isinstance(entry, ast.Named):
            inner = self.one_line(entry.entry)
            return None if inner is None else f"{self.label(entry)}: {inner}"
        if isinstance(entry, ast.Sequence):
            items = [simple(e) for e in entry.entries]
            if None in items:
                return None
            return "{ " + "; ".join(items) + " }" if items else "{ }"  # type: ignore[arg-type]
        if isinstance(entry, ast.Repeat):
            inner = self.one_line(entry.body)
            return None if inner is None else self.repeat_head(entry) + inner
        return None


def print_text(spec: ast.Spec) -> str:
    """The canonical `.arch` text of a spec."""
    return TextPrinter(spec).print()


# ------------------------------------------------------------------ YAML


def yaml_scalar(text: str, flow: bool = False) -> str:
    """`text` as a YAML string scalar: plain where YAML reads it back unchanged, else quoted."""
    probe = f"[{text}]" if flow else f"k: {text}"
    try:
        loaded = yaml.safe_load(probe)
        ok = loaded == ([text] if flow else {"k": text})
    except yaml.YAMLError:
        ok = False
    if ok and text.strip() == text and text:
        return text
    return "'" + text.replace("'", "''") + "'"


def yaml_value(expr: ast.Expr, flow: bool = False) -> str:
    """An expression where YAML holds a value: numbers and booleans as YAML's own, lists as
    YAML lists, everything else as expression text."""
    if isinstance(expr, ast.Literal) and not isinstance(expr.value, str):
        if expr.value is None:
            return "null"
        if isinstance(expr.value, bool):
            return "true" if expr.value else "false"
        if expr.raw is not None:
            return expr.raw
        if isinstance(expr.value, float):
            text = repr(expr.value)
            return text if "." in text else text.replace("e", ".0e", 1)
        return repr(expr.value)
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(yaml_value(i, flow=True) for i in expr.items) + "]"
    return yaml_scalar(expression(expr), flow)


class YamlPrinter(_Printer):
    unit = " "  # columns

    def print(self) -> str:
        spec = self.spec
        self.emit_comments(0, spec.span.line)
        self.emit(0, "archc: 1")
        self.emit(0, f"name: {yaml_scalar(spec.name)}")
        if spec.doc is not None:
            self.text_value(0, "doc", spec.doc)
        if spec.params and any(p.default is None for p in spec.params):
            self.emit(0, f"params: {self.param_list(spec.params)}")
        elif spec.params:
            pairs = [f"{p.name}: {yaml_value(p.default, flow=True)}" for p in spec.params
                     if p.default is not None]
            flow = "params: {" + ", ".join(pairs) + "}"
            if len(flow) <= WIDTH:
                self.emit(0, flow + self.comments.trailing(spec.params[-1].span.line))
            else:
                self.emit(0, "params:")
                for pair in pairs:
                    self.emit(2, pair)
        if len(spec.inputs) == 1 and spec.inputs[0].name == "x":
            self.emit_comments(0, spec.inputs[0].span.line)
            self.emit(0, f"input: {self.dims(spec.inputs[0])}"
                      + self.comments.trailing(spec.inputs[0].span.line))
        elif spec.inputs:
            self.emit(0, "inputs:")
            for decl in spec.inputs:
                self.emit(2, f"{decl.name}: {self.dims(decl)}")
        if spec.blocks:
            self.emit(0, "")
            self.emit(0, "blocks:")
            for index, block in enumerate(spec.blocks):
                if index:
                    self.emit(0, "")
                self.emit_comments(2, block.span.line)
                self.emit(2, f"{block.name}:")
                if block.doc is not None:
                    self.text_value(4, "doc", block.doc)
                if block.params:
                    self.emit(4, f"params: {self.param_list(block.params)}"
                              + self.comments.trailing(block.params[-1].span.line))
                if block.inline:
                    self.emit(4, "inline: true")
                self.value(4, "body", block.body)
        self.emit(0, "")
        self.emit(0, "layers:")
        for entry in spec.body.entries:
            self.item(2, entry)
        if spec.outputs:
            self.emit(0, "outputs: [" + ", ".join(
                yaml_scalar(".".join(o.path), flow=True) for o in spec.outputs) + "]")
        for comment in self.comments.rest():
            self.emit(0, comment)
        return "\n".join(align(line) for line in self.lines) + "\n"

    @staticmethod
    def param_list(params: Sequence[ast.Param]) -> str:
        return "[" + ", ".join(p.name if p.default is None else
                               f"{{{p.name}: {yaml_value(p.default, flow=True)}}}"
                               for p in params) + "]"

    def text_value(self, indent: int, key: str, text: str) -> None:
        """A prose value: one line if it fits, else folded (>-) over several."""
        scalar = yaml_scalar(text)
        if len(" " * indent + key + scalar) + 2 <= WIDTH or "  " in text or "\n" in text \
                or text != text.strip():
            self.emit(indent, f"{key}: {scalar}")
            return
        self.emit(indent, f"{key}: >-")
        for line in textwrap.wrap(text, WIDTH - indent - 2, break_long_words=False,
                                  break_on_hyphens=False):
            self.emit(indent + 2, line)

    @staticmethod
    def dims(decl: ast.InputDecl) -> str:
        return "[" + ", ".join(yaml_value(d, flow=True) for d in decl.dims) + "]"

    def scalar(self, entry: ast.Entry, room: int) -> str | None:
        """An entry that fits a one-line YAML string of `room` characters (a layer, or a
        sequence of two or more)."""
        text = simple(entry)
        if text is None and isinstance(entry, ast.Sequence) and len(entry.entries) > 1:
            items = [simple(e) for e in entry.entries]
            text = None if None in items else "; ".join(items)  # type: ignore[arg-type]
        if text is None:
            return None
        scalar = yaml_scalar(text)
        return scalar if len(scalar) <= room or simple(entry) is not None else None

    def item(self, indent: int, entry: ast.Entry) -> None:
        """`entry` as a list item of the top-level `layers`."""
        self.lines.extend(" " * indent + line for line in self.list_item(entry, indent))

    def value(self, indent: int, key: str, entry: ast.Entry) -> None:
        self.lines.extend(" " * indent + line for line in self.mapping_value(key, entry, indent))

    def list_item(self, entry: ast.Entry, indent: int) -> list[str]:
        lines = self.comments.before(entry.span.line)
        scalar = self.scalar(entry, WIDTH - indent - 2)
        if scalar is not None:
            return [*lines, f"- {scalar}" + self.comments.trailing(entry.span.end_line)]
        block = self.block(entry, indent + 2)
        return [*lines, "- " + block[0], *("  " + line for line in block[1:])]

    def mapping_value(self, key: str, value: ast.Entry | str | list[ast.Entry],
                      indent: int) -> list[str]:
        if isinstance(value, str):
            return [f"{key}: {value}"]
        if isinstance(value, list):
            items = [line for entry in value for line in self.list_item(entry, indent + 2)]
            return [f"{key}:", *("  " + line for line in items)]
        scalar = self.scalar(value, WIDTH - indent - len(key) - 2)
        if scalar is not None:
            return [f"{key}: {scalar}" + self.comments.trailing(value.span.end_line)]
        return [f"{key}:", *("  " + line for line in self.block(value, indent + 2))]

    def block(self, entry: ast.Entry, indent: int) -> list[str]:
        """An entry as a YAML block collection: a list for sequences, else a mapping."""
        if isinstance(entry, ast.Sequence):
            return [line for item in entry.entries
                    for line in self.list_item(item, indent)] or ["[]"]
        return [line for key, value in self.mapping(entry)
                for line in self.mapping_value(key, value, indent)]

    def mapping(self, entry: ast.Entry) -> list[tuple[str, Any]]:
        """The key/value pairs of an entry written as a YAML mapping."""
        writers: dict[type, Callable[[Any], list[tuple[str, Any]]]] = {
            ast.Named: lambda e: [(yaml_scalar(name_text(e)), e.entry)],
            ast.Merge: lambda e: [(e.op, list(e.branches))]
            + [(a.name, yaml_value(a.value)) for a in e.args],
            ast.Repeat: lambda e: [("repeat", yaml_value(e.count))]
            + ([("as", e.var)] if e.var else []) + [("body", e.body)],
            ast.If: lambda e: [("if", yaml_value(e.test)), ("then", e.then)]
            + ([("else", e.orelse)] if e.orelse is not None else []),
        }
        return writers[type(entry)](entry)


def print_yaml(spec: ast.Spec) -> str:
    """The canonical YAML text of a spec."""
    return YamlPrinter(spec).print()
