"""Layer strings and expressions: lark parse trees to AST nodes.

Input: the text of one YAML layer string (`conv(64, 3, stride=2)`, `@stem`) or expression
(`in.c // 2`), and where it sits in its file. Output: an AST `Call`/`Ref` or `Expr` whose spans
point into the file. Syntax errors become ArchcErrors that name the expected tokens in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lark import PostLex
from lark.lexer import PatternStr

from archc.errors import ArchcError, Source, Span
from archc.frontend import ast

KEYWORDS = frozenset({"if", "else", "and", "or", "not", "in", "true", "false", "none"})


class _Newlines(PostLex):
    """Line breaks separate statements, except inside ( ) and [ ], where they are spaces."""

    always_accept = ("_NL",)
    opening = frozenset({"LPAR", "LSQB"})
    closing = frozenset({"RPAR", "RSQB"})

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for token in stream:
            if token.type in self.opening:
                depth += 1
            elif token.type in self.closing:
                depth = max(0, depth - 1)
            elif token.type == "_NL" and depth:
                continue
            yield token


# how the parser is built; part of the key of the shipped tables (tables.py)
OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "contextual",
    "start": ["layer", "expression", "network"],
    "propagate_positions": True,
    "maybe_placeholders": False,
}


def grammar_text() -> str:
    return resources.files("archc.frontend").joinpath("grammar.lark").read_text(encoding="utf-8")


def build_parser(grammar: str) -> Lark:
    """The parser built from the grammar: analyses the LALR tables (slow, always correct)."""
    return Lark(grammar, postlex=_Newlines(), **OPTIONS)


@cache
def parser() -> Lark:
    """The parser, from the tables shipped in grammar.json when they are current (fast, and
    no pickle or cache file is ever read), else built from the grammar."""
    from archc.frontend import tables  # imported here: `python -m archc.frontend.tables` runs it

    grammar = grammar_text()
    return tables.load(grammar, OPTIONS, lambda: build_parser(grammar),
                       {"postlex": _Newlines(), "propagate_positions": True})


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def unquote(token: str) -> str:
    """A STRING token's value: quotes removed, \\n \\t \\\\ \\' \\" unescaped, any other
    backslash kept as written (never Python's literal_eval)."""
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


class _Lower(Transformer[Token, Any]):
    """lark tree → AST, one method per grammar rule (named as the rule or its alias)."""

    def __init__(self, source: Source | None, line: int, column: int) -> None:
        super().__init__()
        self.source = source
        self.line = line
        self.column = column

    def _span(self, item: Any) -> Span:
        if isinstance(item, Token):
            line, col = item.line or 1, item.column or 1
            end_line, end_col = item.end_line or line, item.end_column or col + len(item)
        else:
            meta = item.meta if isinstance(item, Tree) else item
            line, col = meta.line, meta.column
            end_line, end_col = meta.end_line, meta.end_column
        return Span(self.source, line, col, end_line, end_col).shifted(self.line, self.column)

    # -- entries
    @v_args(tree=True)
    def layer(self, tree: Any) -> Any:
        if len(tree.children) == 1:
            return tree.children[0]
        return ast.Sequence(tuple(tree.children), self._span(tree))

    @v_args(tree=True)
    def expression(self, tree: Any) -> Any:
        return tree.children[0]

    @v_args(tree=True)
    def call(self, tree: Any) -> ast.Call:
        name = tree.children[0]
        args: tuple[ast.Argument, ...] = ()
        if len(tree.children) > 1:
            args = tuple(tree.children[1])
        return ast.Call(str(name), args, self._span(tree))

    def arguments(self, children: list[ast.Argument]) -> list[ast.Argument]:
        return children

    @v_args(tree=True)
    def positional(self, tree: Any) -> ast.Argument:
        return ast.Argument(None, tree.children[0], self._span(tree))

    @v_args(tree=True)
    def keyword(self, tree: Any) -> ast.Argument:
        return ast.Argument(str(tree.children[0]), tree.children[1], self._span(tree))

    @v_args(tree=True)
    def ref(self, tree: Any) -> ast.Ref:
        return ast.Ref(tuple(str(t) for t in tree.children), self._span(tree))

    # -- expressions
    @v_args(tree=True)
    def int(self, tree: Any) -> ast.Literal:
        return ast.Literal(int(tree.children[0]), self._span(tree), str(tree.children[0]))

    @v_args(tree=True)
    def float(self, tree: Any) -> ast.Literal:
        return ast.Literal(float(tree.children[0]), self._span(tree), str(tree.children[0]))

    @v_args(tree=True)
    def string(self, tree: Any) -> ast.Literal:
        text = str(tree.children[0])
        return ast.Literal(unquote(text), self._span(tree))

    @v_args(tree=True)
    def true(self, tree: Any) -> ast.Literal:
        return ast.Literal(True, self._span(tree))

    @v_args(tree=True)
    def false(self, tree: Any) -> ast.Literal:
        return ast.Literal(False, self._span(tree))

    @v_args(tree=True)
    def none(self, tree: Any) -> ast.Literal:
        return ast.Literal(None, self._span(tree))

    @v_args(tree=True)
    def in_shape(self, tree: Any) -> ast.InShape:
        return ast.InShape(self._span(tree))

    @v_args(tree=True)
    def name(self, tree: Any) -> ast.Name:
        return ast.Name(str(tree.children[0]), self._span(tree))

    @v_args(tree=True)
    def list(self, tree: Any) -> ast.ListExpr:
        return ast.ListExpr(tuple(tree.children), self._span(tree))

    @v_args(tree=True)
    def index(self, tree: Any) -> ast.Index:
        return ast.Index(tree.children[0], tree.children[1], self._span(tree))

    @v_args(tree=True)
    def attribute(self, tree: Any) -> ast.Attribute:
        return ast.Attribute(tree.children[0], str(tree.children[1]), self._span(tree))

    @v_args(tree=True)
    def function(self, tree: Any) -> ast.FunctionCall:
        return ast.FunctionCall(str(tree.children[0]), tuple(tree.children[1:]), self._span(tree))

    @v_args(tree=True)
    def conditional(self, tree: Any) -> ast.Conditional:
        body, test, orelse = tree.children
        return ast.Conditional(test, body, orelse, self._span(tree))

    def _binary(self, op: str, tree: Any) -> ast.Binary:
        left, right = tree.children[0], tree.children[-1]
        return ast.Binary(op, left, right, self._span(tree))

    @v_args(tree=True)
    def compare(self, tree: Any) -> ast.Binary:
        left, operator, right = tree.children
        return ast.Binary(str(operator), left, right, self._span(tree))

    @v_args(tree=True)
    def or_op(self, tree: Any) -> ast.Binary:
        return self._binary("or", tree)

    @v_args(tree=True)
    def and_op(self, tree: Any) -> ast.Binary:
        return self._binary("and", tree)

    @v_args(tree=True)
    def add(self, tree: Any) -> ast.Binary:
        return self._binary("+", tree)

    @v_args(tree=True)
    def sub(self, tree: Any) -> ast.Binary:
        return self._binary("-", tree)

    @v_args(tree=True)
    def mul(self, tree: Any) -> ast.Binary:
        return self._binary("*", tree)

    @v_args(tree=True)
    def truediv(self, tree: Any) -> ast.Binary:
        return self._binary("/", tree)

    @v_args(tree=True)
    def floordiv(self, tree: Any) -> ast.Binary:
        return self._binary("//", tree)

    @v_args(tree=True)
    def mod(self, tree: Any) -> ast.Binary:
        return self._binary("%", tree)

    @v_args(tree=True)
    def power(self, tree: Any) -> ast.Binary:
        return self._binary("**", tree)

    @v_args(tree=True)
    def not_op(self, tree: Any) -> ast.Unary:
        return ast.Unary("not", tree.children[0], self._span(tree))

    @v_args(tree=True)
    def neg(self, tree: Any) -> ast.Unary | ast.Literal:
        operand = tree.children[0]
        value = operand.value if isinstance(operand, ast.Literal) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raw = None if operand.raw is None else "-" + operand.raw
            return ast.Literal(-value, self._span(tree), raw)  # -3 is a number
        return ast.Unary("-", operand, self._span(tree))

    @v_args(tree=True)
    def pos(self, tree: Any) -> ast.Unary:
        return ast.Unary("+", tree.children[0], self._span(tree))


def describe_terminal(name: str) -> str:
    """A terminal as a person would name it: `')'`, `a name`, `a number`."""
    words = {
        "NAME": "a name",
        "INT": "a number",
        "FLOAT": "a number",
        "STRING": "a string",
        "COMPARE": "a comparison",
        "$END": "the end of the text",
        "_NL": "a line break",
    }
    if name in words:
        return words[name]
    try:
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if isinstance(pattern, PatternStr):
        return f"'{pattern.value}'"
    return name.lower()


_CLOSERS = ("')'", "','", "']'", "'='")
_OPERATORS = {f"'{o}'" for o in ("+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">",
                                 ">=", "and", "or", "if", "else", "[", ".")} | {"a comparison"}


def describe_expected(names: set[str]) -> str:
    """The tokens a parser could have taken, closers first, operand tokens summarised."""
    described = {describe_terminal(n) for n in names if not n.startswith("__")}
    if {"a name", "a number"} <= described:
        described = {d for d in described if d in _CLOSERS} | {"an expression"}
    operators = {d for d in described if d in _OPERATORS}
    if len(operators) > 1:
        described = (described - operators) | {"an operator"}
    ordered = [c for c in _CLOSERS if c in described]
    ordered += sorted(described - set(_CLOSERS))
    described_list = ordered
    if len(described_list) <= 1:
        return "".join(described_list)
    return ", ".join(described_list[:-1]) + " or " + described_list[-1]


def _syntax_error(
    error: UnexpectedInput, text: str, source: Source | None, line: int, column: int, what: str
) -> ArchcError:
    err_line = getattr(error, "line", 1) or 1
    err_col = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        lines = text.rstrip("\n").split("\n")
        err_line, err_col = len(lines), len(lines[-1]) + 1
        found = "the end of the text"
        width = 1
    elif isinstance(error, UnexpectedToken):
        found = f"'{error.token}'"
        width = max(1, len(str(error.token)))
    else:
        assert isinstance(error, UnexpectedCharacters)
        position = min(max(error.pos_in_stream or 0, 0), max(len(text) - 1, 0))
        found = repr(text[position]) if text else "nothing"
        width = 1
    expected_names: set[str] = set(getattr(error, "expected", None) or ())
    if isinstance(error, UnexpectedToken) and error.interactive_parser is not None:
        accepts = error.interactive_parser.accepts()  # type: ignore[no-untyped-call]
        expected_names = set(accepts)  # exact, unlike the LALR lookahead set
    if isinstance(error, UnexpectedCharacters):
        expected_names = set(error.allowed or ())
    span = Span(source, err_line, err_col, err_line, err_col + width).shifted(line, column)
    return ArchcError(
        f"syntax error in {what}",
        span,
        expected=describe_expected(expected_names) or None,
        found=found,
        notes=_hints(found, expected_names, text, what,
                     text.split("\n")[min(err_line, len(text.split("\n"))) - 1]),
    )


def _hints(found: str, expected: set[str], text: str, what: str, line: str) -> list[str]:
    """Advice for the slips people make most, from what the parser found and wanted."""
    token = found.strip("'")
    hints = []
    if token == "=" and "COLON" in expected:
        hints.append("hint: name an entry with `name: layer`, not `name = layer`")
    elif token == "=":
        hints.append("hint: keyword arguments are written name=value inside a call")
    python = line.split()[:1] in (["def"], ["class"], ["import"], ["return"], ["from"])
    if {"SEMICOLON", "_NL"} & expected and not python and token not in (
            "=", "{", "}", "the end of the text"):
        hints.append("hint: separate statements with ';' or a line break")
    if line.split()[:1] in (["def"], ["class"], ["import"], ["return"], ["from"]):
        hints.append("hint: a spec is not Python: blocks are `block name(params) { ... }`")
    if token == "the end of the text" and "RBRACE" in expected:
        opening = _unclosed_brace(text)
        where = f" (the one on line {opening})" if opening else ""
        hints.append(f"hint: a '{{' is not closed{where}")
    if token == "}" and what == "spec" and "RBRACE" not in expected:
        hints.append("hint: this '}' closes nothing, or a statement before it is unfinished")
    if token in ("{", "}") and what != "spec":
        hints.append("hint: lists are written with [ ] in expressions")
    return hints


def _unclosed_brace(text: str) -> int | None:
    """The line of the innermost '{' that is never closed (outside strings and comments)."""
    stack: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        quote = None
        for char in line:
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            elif char == "{":
                stack.append(number)
            elif char == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None


@lru_cache(maxsize=4096)
def _tree(text: str, start: str) -> Any:
    """The parse tree of a layer string or expression; specs repeat the same strings (a large
    generated spec may hold the same layer thousands of times), and lowering does not change
    the tree, so each distinct text is parsed once."""
    return parser().parse(text, start=start)


def _parse(text: str, start: str, source: Source | None, line: int, column: int, what: str) -> Any:
    try:
        tree = _tree(text, start)
    except UnexpectedInput as error:
        raise _syntax_error(error, text, source, line, column, what) from None
    return transform(_Lower(source, line, column), tree)


def transform(lower: _Lower, tree: Any) -> Any:
    """Run a lowering transformer; an ArchcError it raises reaches the caller as itself."""
    try:
        return lower.transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ArchcError):
            raise error.orig_exc from None
        raise


def parse_layer(
    text: str, source: Source | None = None, line: int = 1, column: int = 1
) -> ast.Call | ast.Ref | ast.Sequence:
    """Parse one layer string (`a; b; c` is a sequence); `line`/`column` say where it starts."""
    node = _parse(text, "layer", source, line, column, "layer")
    assert isinstance(node, (ast.Call, ast.Ref, ast.Sequence))
    return node


def parse_expression(
    text: str, source: Source | None = None, line: int = 1, column: int = 1
) -> ast.Expr:
    node = _parse(text, "expression", source, line, column, "expression")
    return node  # type: ignore[no-any-return]


TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")


def parse_name_template(text: str, source: Source | None, line: int, column: int,
                        span: Span) -> tuple[str | ast.Expr, ...]:
    """`denselayer{i + 1}` → ('denselayer', <i + 1>): an entry name with expressions."""
    parts: list[str | ast.Expr] = []
    position = 0
    for match in TEMPLATE_PART.finditer(text):
        if match.start() > position:
            parts.append(text[position:match.start()])
        parts.append(parse_expression(match.group(1), source, line, column + match.start(1)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    literal = "".join(p for p in parts if isinstance(p, str))
    if "{" in literal or "}" in literal or not re.fullmatch(r"[A-Za-z0-9_]*", literal):
        raise ArchcError("an entry name may hold letters, digits, _ and {expression} parts",
                         span, found=repr(text))
    return tuple(parts)
