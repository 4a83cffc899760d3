"""AST → spec text, in either spelling: the canonical layout of `archc fmt` and the output of
`archc convert`.

Input: an `ast.Spec` (with the comments of its source). Output: `.arch` text or YAML text that
parses back to an equal AST (the property tests check parse(print(ast)) == ast both ways).
Expressions are printed as written (parameter expressions, not their values), with the fewest
parentheses the grammar needs (archc.expr.printer). Comments are put back before the statement
they preceded, or after it on its line.
"""

from __future__ import annotations

import math
import re
import secrets
import textwrap
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from archc.errors import UNKNOWN_SPAN, ArchcError
from archc.expr.printer import expression, quoted
from archc.frontend import ast
from archc.frontend.expressions import parse_name_template

WIDTH = 100


def arguments(args: Sequence[ast.Argument]) -> str:
    return ", ".join(value_text(a.value) if a.name is None else f"{a.name}={value_text(a.value)}"
                     for a in args)


def value_text(value: ast.Expr | ast.Ref) -> str:
    """An argument's value: an expression, or a tensor argument's reference (`@enc3`)."""
    return "@" + ".".join(value.path) if isinstance(value, ast.Ref) else expression(value)


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


def name_text(entry: ast.Named, canonical: bool = False) -> str:
    """An entry's name as written. A template (`layer{i + 1}`) keeps its written text when
    that reads back to the same parts (its text is part of the AST), else (or when
    `canonical`) it is rebuilt from them."""
    if not entry.template:
        return entry.name
    if not canonical:
        try:
            if parse_name_template(entry.name, None, 1, 1, UNKNOWN_SPAN) == entry.template:
                return entry.name
        except ArchcError:
            pass
    return "".join(p if isinstance(p, str) else "{" + expression(p) + "}"
                   for p in entry.template)


# the words of the text form's grammar: an entry named so is written as a string
KEYWORDS = frozenset(re.findall(r'"([a-z_]+)"', (Path(__file__).with_name("grammar.lark"))
                                .read_text(encoding="utf-8")))


def template_label(entry: ast.Named) -> str:
    """A name template as the text form's string, which keeps its text as written (no
    escapes): quoted with a quote it does not hold."""
    for text in dict.fromkeys((name_text(entry), name_text(entry, canonical=True))):
        if "\\" not in text:
            for quote in ('"', "'"):
                if quote not in text:
                    return f"{quote}{text}{quote}"
    raise ArchcError("this name template holds both kinds of quote (or a backslash), which "
                     "the text form cannot write", entry.span,
                     notes=["keep this spec in YAML, or use one kind of quote in the name"])


class _Comments:
    """Hands out the source's comments in line order as statements are printed."""

    def __init__(self, comments: Sequence[ast.Comment]) -> None:
        self.pending = sorted(comments, key=lambda c: (c.line, c.column))
        # a marker no spec text can contain (strings and comments may hold any character,
        # NUL included): random for each printing, and never part of the output
        self.mark = f"\0{secrets.token_hex(8)}\0"

    def before(self, line: int) -> list[str]:
        out = []
        while self.pending and self.pending[0].line < line:
            out.append("#" + self.pending.pop(0).text)
        return out

    def trailing(self, line: int) -> str:
        """The comment at the end of `line`, as a suffix; `self.mark` marks where alignment
        padding may go (resolved by `align`)."""
        if self.pending and self.pending[0].line == line:
            comment = self.pending.pop(0)
            return f"{self.mark}{comment.column}{self.mark}#{comment.text}"
        return ""

    def rest(self) -> list[str]:
        out = ["#" + c.text for c in self.pending]
        self.pending = []
        return out


def align(line: str, mark: str) -> str:
    """Put a trailing comment at its source column when the code leaves room, else two spaces
    after the code."""
    if mark not in line:
        return line
    code, column, comment = line.split(mark, 2)
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
        for item in spec.imports:
            self.emit_comments(1, item.span.line)
            self.emit(1, f"import {quoted(item.path)}" + self.comments.trailing(item.span.line))
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
        if spec.body.entries:
            self.emit(0, "")
        for entry in spec.body.entries:
            self.statement(1, entry)
        for word, outputs, keys in (("outputs", spec.outputs, spec.output_keys),
                                    ("training outputs", spec.training_outputs,
                                     spec.training_output_keys)):
            if outputs:
                self.emit_comments(1, outputs[0].span.line)
                self.emit(1, f"{word} " + ", ".join(
                    (f"{keys[i]}: " if keys else "") + ".".join(o.path)
                    for i, o in enumerate(outputs)))
        for comment in self.comments.rest():
            self.emit(1, comment)
        self.emit(0, "}")
        return "\n".join(align(line, self.comments.mark) for line in self.lines) + "\n"

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
        """An entry's name as the text form writes it: a template, or a name that is one of
        the grammar's words (`block`, `input`) quoted, as the text form reads names."""
        if entry.template:
            return template_label(entry)
        # a grammar word, or a name joined with '-', is no NAME token: written as a string
        return f'"{entry.name}"' if entry.name in KEYWORDS or "-" in entry.name else entry.name

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


# the loaders the YAML front end reads with: a scalar is written in a style only when both
# read it back as exactly the text
_LOADERS = tuple(dict.fromkeys((getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader)))


def _reads_back(document: str, expected: object) -> bool:
    for loader in _LOADERS:
        try:
            if yaml.load(document, Loader=loader) != expected:
                return False
        except yaml.YAMLError:
            return False
    return True


@lru_cache(maxsize=65_536)  # specs repeat their layer strings; each probe parses YAML twice
def yaml_scalar(text: str, flow: bool = False) -> str:
    """`text` as a one-line YAML string scalar that reads back exactly: plain where YAML
    reads it unchanged, else single-quoted, else double-quoted with escapes (line breaks,
    tabs, control and other characters YAML does not allow raw)."""
    candidates = [text] if text and text.strip() == text else []
    if "\n" not in text and "'" in text and not any(c in text for c in '"\\'):
        candidates.append(f'"{text}"')  # 'relu' reads better double-quoted than with '' inside
    if "\n" not in text:
        candidates.append("'" + text.replace("'", "''") + "'")
    for candidate in candidates:
        probe = f"[{candidate}]" if flow else f"k: {candidate}"
        if _reads_back(probe, [text] if flow else {"k": text}):
            return candidate
    return double_quoted(text)


_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r",
                 "\0": "\\0"}


def double_quoted(text: str) -> str:
    """A YAML double-quoted scalar holding exactly `text`: everything that is not printable
    ASCII or a printable non-ASCII character YAML allows raw is escaped."""
    out = []
    for char in text:
        code = ord(char)
        if char in _YAML_ESCAPES:
            out.append(_YAML_ESCAPES[char])
        elif 0x20 <= code < 0x7F or (0xA0 <= code <= 0xFFFD and code != 0xFEFF
                                     and not 0xD800 <= code <= 0xDFFF
                                     and char not in "\u2028\u2029") or code > 0xFFFF:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def block_scalar(text: str) -> list[str] | None:
    """`text` as a literal block scalar (`|`): the header, then the lines to indent by two
    more than the key; None when no block scalar holds it exactly (then it is quoted)."""
    if "\n" not in text or text.endswith("\n\n"):
        return None  # |+ would also keep the blank lines printed after it
    chomp = "" if text.endswith("\n") else "-"
    lines = (text[:-1] if chomp == "" else text).split("\n")
    first = next((line for line in lines if line.strip()), "")
    indicator = "2" if first[:1] in (" ", "\t") else ""
    header = f"|{indicator}{chomp}"
    document = f"k: {header}\n" + "".join(f"  {line}\n" if line else "\n" for line in lines)
    if not _reads_back(document, {"k": text}):
        return None
    return [header, *lines]


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
            if not math.isfinite(expr.value):  # YAML's own spellings, read back as floats
                return ".nan" if math.isnan(expr.value) else "-.inf" if expr.value < 0 \
                    else ".inf"
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
        if len(spec.imports) == 1:
            self.top_level("import", yaml_scalar(spec.imports[0].path), spec.imports[0].span.line)
        elif spec.imports:
            self.emit(0, "import:")
            for item in spec.imports:
                self.emit_comments(2, item.span.line)
                self.emit(2, f"- {yaml_scalar(item.path)}" + self.comments.trailing(item.span.line))
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
                for param, pair in zip([p for p in spec.params if p.default is not None], pairs,
                                       strict=True):
                    self.emit_comments(2, param.span.line)
                    self.pair(2, param, pair)
        if len(spec.inputs) == 1 and spec.inputs[0].name == "x":
            self.top_level("input", self.dims(spec.inputs[0]), spec.inputs[0].span.line)
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
                    flow = f"params: {self.param_list(block.params)}"
                    if len(flow) + 4 <= WIDTH:
                        self.emit(4, flow + self.comments.trailing(block.params[-1].span.line))
                    else:  # one parameter per line
                        self.emit(4, "params:")
                        for param in block.params:
                            self.emit_comments(6, param.span.line)
                            self.emit(6, "- " + (param.name if param.default is None else
                                                 f"{param.name}: {yaml_value(param.default)}"))
                if block.inline:
                    self.emit(4, "inline: true")
                self.value(4, "body", block.body)
        if spec.body.entries:
            self.emit(0, "")
            self.emit(0, "layers:")
        for entry in spec.body.entries:
            self.item(2, entry)
        for word, outputs, keys in (("outputs", spec.outputs, spec.output_keys),
                                    ("training_outputs", spec.training_outputs,
                                     spec.training_output_keys)):
            if outputs:
                self.emit_comments(0, outputs[0].span.line)
            if outputs and keys:
                self.emit(0, f"{word}: {{" + ", ".join(
                    f"{key}: {yaml_scalar('.'.join(o.path), flow=True)}"
                    for key, o in zip(keys, outputs, strict=True)) + "}")
            elif outputs:
                self.emit(0, f"{word}: [" + ", ".join(
                    yaml_scalar(".".join(o.path), flow=True) for o in outputs) + "]")
        for comment in self.comments.rest():
            self.emit(0, comment)
        return "\n".join(align(line, self.comments.mark) for line in self.lines) + "\n"

    def top_level(self, key: str, value: str, line: int) -> None:
        """`key: value` at the top of the spec, with the comments of its source line."""
        self.emit_comments(0, line)
        self.emit(0, f"{key}: {value}" + self.comments.trailing(line))

    def pair(self, indent: int, param: ast.Param, flow: str) -> None:
        """`name: value`; a list too long for the line one item per line."""
        value = param.default
        if len(" " * indent + flow) <= WIDTH or not isinstance(value, ast.ListExpr):
            self.emit(indent, flow)
            return
        self.emit(indent, f"{param.name}:")
        for item in value.items:
            self.emit(indent + 2, "- " + yaml_value(item, flow=True))

    @staticmethod
    def param_list(params: Sequence[ast.Param]) -> str:
        return "[" + ", ".join(p.name if p.default is None else
                               f"{{{p.name}: {yaml_value(p.default, flow=True)}}}"
                               for p in params) + "]"

    def text_value(self, indent: int, key: str, text: str) -> None:
        """A prose value (a doc): one line if it fits, a literal block (|) if it has several
        lines, else folded (>-) over several; always reading back exactly."""
        block = block_scalar(text)
        if block is not None:
            self.emit(indent, f"{key}: {block[0]}")
            for line in block[1:]:
                self.emit(indent + 2, line)
            return
        scalar = yaml_scalar(text)
        if len(" " * indent + key + scalar) + 2 > WIDTH and "\n" not in text:
            wrapped = textwrap.wrap(text, WIDTH - indent - 2, break_long_words=False,
                                    break_on_hyphens=False)
            folded = "k: >-\n" + "".join(f"  {line}\n" for line in wrapped)
            if _reads_back(folded, {"k": text}):
                self.emit(indent, f"{key}: >-")
                for line in wrapped:
                    self.emit(indent + 2, line)
                return
        self.emit(indent, f"{key}: {scalar}")

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
            trailing = self.comments.trailing(entry.span.end_line)  # taken once: it is used
            return [*lines, f"- {scalar}" + trailing] if trailing else [
                *lines, *folded(f"- {scalar}", indent)]
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
            trailing = self.comments.trailing(value.span.end_line)
            return [f"{key}: {scalar}" + trailing] if trailing else folded(f"{key}: {scalar}",
                                                                           indent)
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


def folded(line: str, indent: int) -> list[str]:
    """A `key: value` or `- value` line too long for the width, its plain value folded after
    commas onto lines aligned under its start (YAML reads the breaks as the spaces they
    were); as it is where that would not read back the same."""
    if len(" " * indent + line) <= WIDTH:
        return [line]
    head = line.index(": ") + 2 if not line.startswith("- ") else 2
    value = line[head:]
    if value[:1] in "'\"[{|>&*!%@`" or "#" in value:
        return [line]
    lines: list[str] = []
    current = line[:head]
    for piece in re.split(r"(?<=, )", value):
        if len(" " * indent + current + piece.rstrip()) > WIDTH and current.strip() \
                and len(current) > head:
            lines.append(current.rstrip())
            current = " " * head
        current += piece
    lines.append(current.rstrip())
    try:
        same = yaml.safe_load("\n".join(lines)) == yaml.safe_load(line)
    except yaml.YAMLError:
        same = False
    return lines if same else [line]


def print_yaml(spec: ast.Spec) -> str:
    """The canonical YAML text of a spec."""
    return YamlPrinter(spec).print()
