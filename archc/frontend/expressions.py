"""Layer strings and expressions: lark parse trees to AST nodes.

Input: the text of one YAML layer string (`conv(64, 3, stride=2)`, `@stem`) or expression
(`in.c // 2`), and where it sits in its file. Output: an AST `Call`/`Ref` or `Expr` whose spans
point into the file. Syntax errors become ArchcErrors that name the expected tokens in words.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from lark import Discard, Lark, Token, Transformer, Tree, v_args
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
from archc.frontend import ast, lookalikes, tables
from archc.limits import MAX_TOKENS

KEYWORDS = frozenset({"if", "else", "and", "or", "not", "in", "true", "false", "none"})
# the words of the text form, for "did you mean" on a look-alike
WORDS = KEYWORDS | {"network", "block", "inline", "doc", "input", "outputs", "training",
                             "repeat", "concat",
                    "add", "mul", "True", "False", "None"}
# (line, column) in a parsed string → (line, column) in its file, for strings whose characters
# are not where a plain shift puts them (YAML block scalars: indentation removed, lines folded)
Locate = Callable[[int, int], tuple[int, int]]


def place(source: Source | None, line: int, column: int, end_line: int, end_column: int,
          at_line: int, at_column: int, locate: Locate | None = None) -> Span:
    """The file span of a span in a string that starts at (at_line, at_column)."""
    if locate is None:
        return Span(source, line, column, end_line, end_column).shifted(at_line, at_column)
    first = locate(line, column)
    if (end_line, end_column) > (line, column + 1):
        last = locate(end_line, end_column - 1)
        end = (last[0], last[1] + 1)
    else:
        end = (first[0], first[1] + 1)
    return Span(source, first[0], first[1], end[0], end[1])


MAX_NESTING = 100  # brackets and braces inside each other; far beyond any real spec
MAX_INT_DIGITS = 64  # digits of an integer literal (int64 needs 19; expressions may compute)


class TooDeep(Exception):
    """Raised by the post-lexer at the bracket that opens one level too many."""

    def __init__(self, token: Token) -> None:
        super().__init__(str(token))
        self.token = token


class _Newlines(PostLex):
    """Line breaks separate statements, except inside ( ) and [ ], where they are spaces.

    Also bounds nesting: a tree nested thousands of levels deep would overflow the stack of
    every later stage, so the bracket that opens level MAX_NESTING + 1 is refused where it is.
    """

    always_accept = ("_NL",)
    opening = frozenset({"LPAR", "LSQB"})
    closing = frozenset({"RPAR", "RSQB"})

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        braces = 0
        for token in stream:
            if token.type in self.opening:
                depth += 1
                if depth + braces > MAX_NESTING:
                    raise TooDeep(token)
            elif token.type in self.closing:
                depth = max(0, depth - 1)
            elif token.type == "LBRACE":
                braces += 1
                if depth + braces > MAX_NESTING:
                    raise TooDeep(token)
            elif token.type == "RBRACE":
                braces = max(0, braces - 1)
            elif token.type == "_NL" and depth:
                continue
            yield token


def too_deep(error: TooDeep, source: Source | None, line: int, column: int,
             locate: Locate | None = None) -> ArchcError:
    token = error.token
    span = place(source, token.line or 1, token.column or 1, token.line or 1,
                 (token.column or 1) + 1, line, column, locate)
    return ArchcError(f"the spec nests too deeply: this '{token}' opens level "
                      f"{MAX_NESTING + 1}", span,
                      notes=[f"brackets and braces nest at most {MAX_NESTING} levels deep: "
                             "name the inner parts (as entries or blocks) to flatten them"])


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

    def __init__(self, source: Source | None, line: int, column: int,
                 locate: Locate | None = None) -> None:
        super().__init__()
        self.source = source
        self.line = line
        self.column = column
        self.locate = locate

    def _span(self, item: Any) -> Span:
        if isinstance(item, Token):
            line, col = item.line or 1, item.column or 1
            end_line, end_col = item.end_line or line, item.end_column or col + len(item)
        else:
            meta = item.meta if isinstance(item, Tree) else item
            line, col = meta.line, meta.column
            end_line, end_col = meta.end_line, meta.end_column
        return place(self.source, line, col, end_line, end_col, self.line, self.column,
                     self.locate)

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
    def tensor_keyword(self, tree: Any) -> ast.Argument:
        """`skip=@enc3`: a block call handing the block an output of the caller."""
        return ast.Argument(str(tree.children[0]), tree.children[1], self._span(tree))

    @v_args(tree=True)
    def ref(self, tree: Any) -> ast.Ref:
        return ast.Ref(tuple(str(t) for t in tree.children), self._span(tree))

    # -- expressions
    @v_args(tree=True)
    def int(self, tree: Any) -> ast.Literal:
        digits = str(tree.children[0])
        if len(digits.lstrip("0")) > MAX_INT_DIGITS:
            raise ArchcError("number too large", self._span(tree),
                             found=f"an integer of {len(digits.lstrip('0')):,} digits",
                             notes=[f"integer literals have at most {MAX_INT_DIGITS} digits; "
                                    "sizes must fit 64 bits (at most 19 digits)"])
        return ast.Literal(int(digits), self._span(tree), digits)

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
    error: UnexpectedInput, text: str, source: Source | None, line: int, column: int, what: str,
    locate: Locate | None = None,
) -> ArchcError:
    """A lark error as an ArchcError in the file's coordinates: a look-alike character, an
    unclosed brace or bracket, or the token found and the tokens expected, in words."""

    def at(at_line: int, at_column: int, width: int = 1) -> Span:
        return place(source, at_line, at_column, at_line, at_column + width, line, column,
                     locate)

    odd = _look_alike(error, text)
    if odd is not None:
        return _non_ascii(text, odd, source, at(*_line_column(text, odd)))
    err_line, err_col, found, width = _found(error, text)
    expected = _expected(error)
    unclosed = _unclosed(error, text, found, expected, err_line, at)
    if unclosed is not None:
        return unclosed
    return ArchcError(
        f"syntax error in {what}", at(err_line, err_col, width),
        expected=describe_expected(expected) or None, found=found,
        notes=_hints(found, expected, text, what,
                     text.split("\n")[min(err_line, len(text.split("\n"))) - 1]),
    )


def _line_column(text: str, position: int) -> tuple[int, int]:
    return (text.count("\n", 0, position) + 1,
            position - (text.rfind("\n", 0, position) + 1) + 1)


def _look_alike(error: UnexpectedInput, text: str) -> int | None:
    """Where a character that is not ASCII caused the error, if one did."""
    odd = error.pos_in_stream if isinstance(error, UnexpectedCharacters) else None
    if odd is not None and 0 <= odd < len(text) and not text[odd].isascii():
        return odd
    if isinstance(error, UnexpectedToken) and error.token.type != "$END" \
            and error.token.start_pos is not None:
        # `nеtwork` lexes as the name `n` before the look-alike: the word is the mistake
        start, end = lookalikes.word_at(text, error.token.start_pos)
        return next((i for i in range(start, end) if not text[i].isascii()), None)
    return None


def _found(error: UnexpectedInput, text: str) -> tuple[int, int, str, int]:
    """Where the parser stopped (line, column), what it found there in words, and how wide
    that is."""
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        lines = text.rstrip("\n").split("\n")
        return len(lines), len(lines[-1]) + 1, "the end of the text", 1
    err_line = getattr(error, "line", 1) or 1
    err_col = getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedToken):
        return err_line, err_col, f"'{error.token}'", max(1, len(str(error.token)))
    assert isinstance(error, UnexpectedCharacters)
    position = min(max(error.pos_in_stream or 0, 0), max(len(text) - 1, 0))
    return err_line, err_col, repr(text[position]) if text else "nothing", 1


def _expected(error: UnexpectedInput) -> set[str]:
    """The terminals the parser would have taken."""
    if isinstance(error, UnexpectedToken) and error.interactive_parser is not None:
        accepts = error.interactive_parser.accepts()  # type: ignore[no-untyped-call]
        return set(accepts)  # exact, unlike the LALR lookahead set
    if isinstance(error, UnexpectedCharacters):
        return set(error.allowed or ())
    return set(getattr(error, "expected", None) or ())


def _unclosed(error: UnexpectedInput, text: str, found: str, expected: set[str],
              err_line: int, at: Callable[[int, int], Span]) -> ArchcError | None:
    """An error that is really a '{', '(' or '[' left open earlier: located at the opener."""
    if found == "the end of the text" and "RBRACE" in expected:
        opening = _unclosed_brace(text)
        if opening is not None:  # the '{' itself is the mistake, not the end of the file
            brace_line, brace_column = opening
            return ArchcError(
                "this '{' is never closed", at(brace_line, brace_column),
                expected="'}'", found=f"the end of the text (line {err_line})",
                notes=[f"hint: a '{{' is not closed (the one on line {brace_line}): add its "
                       "'}', or check the blocks inside it for a missing one"])
    if isinstance(error, UnexpectedToken) and {"RPAR", "RSQB"} & expected \
            and error.token.start_pos is not None:
        opened = _open_bracket_before(text, error.token.start_pos)
        if opened is not None and text.count("\n", 0, opened) + 1 < err_line:
            # a bracket left open on an earlier line: the next statement read as its argument
            bracket_line, bracket_column = _line_column(text, opened)
            closer = ")" if text[opened] == "(" else "]"
            return ArchcError(
                f"this '{text[opened]}' is never closed", at(bracket_line, bracket_column),
                expected=f"'{closer}'", found=f"{found} on line {err_line}",
                notes=[f"hint: close it with '{closer}' on line {bracket_line}; inside brackets "
                       "line breaks do not end a statement"])
    return None


def _non_ascii(text: str, position: int, source: Source | None, span: Span) -> ArchcError:
    """A non-ASCII character outside a string: say which it is and what was meant."""
    start, end = lookalikes.word_at(text, position)
    word = text[start:end]
    known = lookalikes.known_names(source.text if source else text, WORDS)
    message, notes, suggestions = lookalikes.explain(word, "the name", known)
    return ArchcError(message, span, notes=notes, suggestions=suggestions)


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
    if token == "the end of the text" and {"RPAR", "RSQB"} & expected:
        opening = _unclosed_bracket(text)
        if opening is not None:
            hints.append(f"hint: {opening} is never closed")
    if token == "}" and what == "spec" and "RBRACE" not in expected:
        hints.append("hint: this '}' closes nothing, or a statement before it is unfinished")
    if token in ("{", "}") and what != "spec":
        hints.append("hint: lists are written with [ ] in expressions")
    if token == "@" and "RPAR" in expected:  # `up(32, @enc2)`
        hints.append("hint: a block takes a tensor by keyword, name=@entry (skip=@enc2)")
    return hints


def _unclosed_bracket(text: str) -> str | None:
    """The innermost '(' or '[' left open, in words: "the '(' of `conv(`"."""
    index = _open_bracket_before(text, len(text))
    if index is None:
        return None
    word = re.search(r"[A-Za-z_][A-Za-z0-9_]*\Z", text[:index])
    return f"the '{text[index]}' of `{word.group(0)}{text[index]}`" if word else \
        f"the '{text[index]}' at column {index + 1 - text.rfind(chr(10), 0, index) - 1}"


def _open_bracket_before(text: str, end: int) -> int | None:
    """The index of the innermost '(' or '[' still open at `end` (outside strings and
    comments), or None."""
    stack: list[int] = []
    quote = None
    comment = False
    for index in range(end):
        char = text[index]
        if comment:
            comment = char != "\n"
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            comment = True
        elif char in "([":
            stack.append(index)
        elif char in ")]" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """Where the '{' that is never closed probably is (outside strings and comments).

    The innermost open one at the end, unless a '}' closed a '{' whose line is indented
    more than its own: that '}' belonged further out, and the '{' it took is the one left
    open (a block whose '}' was forgotten, with the network's '}' closing it instead).
    """
    stack: list[tuple[int, int, int]] = []
    suspect: tuple[int, int] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        quote = None
        for index, char in enumerate(line):
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            elif char == "{":
                stack.append((number, index + 1, indent))
            elif char == "}" and stack:
                opened = stack.pop()
                if suspect is None and index == indent and opened[2] > indent:
                    suspect = opened[:2]
    if not stack:
        return None
    return suspect or stack[-1][:2]


@lru_cache(maxsize=4096)
def _tree(text: str, start: str) -> tuple[Any, int]:
    """The parse tree of a layer string or expression; specs repeat the same strings (a large
    generated spec may hold the same layer thousands of times), and lowering does not change
    the tree, so each distinct text is parsed once."""
    tree = parser().parse(text, start=start)
    return tree, sum(1 for _ in tree.iter_subtrees()) if isinstance(tree, Tree) else 1


def _parse(text: str, start: str, source: Source | None, line: int, column: int, what: str,
           locate: Locate | None = None) -> Any:
    try:
        tree, size = _tree(text, start)
    except UnexpectedInput as error:
        raise _syntax_error(error, text, source, line, column, what, locate) from None
    except TooDeep as error:
        raise too_deep(error, source, line, column, locate) from None
    _spend_lowering(size, Span(source, line, column, line, column + 1))
    return transform(_Lower(source, line, column, locate), tree)


def transform(lower: _Lower, tree: Any) -> Any:
    """Run a lowering transformer; an ArchcError it raises reaches the caller as itself."""
    try:
        return _transform(lower, tree)
    except VisitError as error:
        if isinstance(error.orig_exc, ArchcError):
            raise error.orig_exc from None
        raise


# ------------------------------------------------------------------ bounded reading

MAX_LOWERED = 250_000  # parse-tree nodes lowered to the AST, aliases expanded
LOWERED_PER_TOKEN = 2  # a layer lowers to about one node per two tokens
_TOKEN = re.compile(r"[A-Za-z0-9_.]+|[^\sA-Za-z0-9_.]")
_lowered: ContextVar[list[int] | None] = ContextVar("archc_lowered", default=None)
_max_tokens: ContextVar[int] = ContextVar("archc_max_tokens", default=MAX_TOKENS)


def max_tokens() -> int:
    """The token limit of the spec being read (token_limit)."""
    return _max_tokens.get()


@contextmanager
def token_limit(tokens: int) -> Iterator[None]:
    """Read the specs parsed inside with at most `tokens` tokens each (archc.Limits)."""
    previous = _max_tokens.set(tokens)
    try:
        yield
    finally:
        _max_tokens.reset(previous)


@contextmanager
def reading(text: str, source: Source) -> Iterator[None]:
    """Bound the work of reading one spec: its tokens are counted first (at C speed, before
    any parsing: a 1 MiB expression would keep lark busy for a minute), and the parse-tree
    nodes lowered while reading it are paid from one budget (YAML aliases repeat a string
    without repeating its tokens)."""
    limit = _max_tokens.get()
    for count, match in enumerate(_TOKEN.finditer(text), start=1):
        if count > limit:
            line = text.count("\n", 0, match.start()) + 1
            column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            raise ArchcError(
                f"the spec is too long to read: more than {limit:,} tokens",
                Span(source, line, column, line, column + len(match.group())),
                notes=["tokens are words, numbers and symbols; the largest spec of the zoo has "
                       "600", "hint: write repeated layers once, in a block or a repeat",
                       "to raise the limit: archc --max-tokens N, or "
                       "archc.Limits(max_tokens=N)"])
    budget = [_max_lowered()]
    previous = _lowered.set(budget)
    try:
        yield
    finally:
        _lowered.reset(previous)


def _max_lowered() -> int:
    """The parse-tree nodes one spec may lower: more under a raised token limit."""
    return max(MAX_LOWERED, LOWERED_PER_TOKEN * _max_tokens.get())


def _spend_lowering(nodes: int, span: Span) -> None:
    budget = _lowered.get()
    if budget is None:
        return
    budget[0] -= nodes
    if budget[0] < 0:
        raise ArchcError(f"the spec is too long to read: more than {_max_lowered():,} expression "
                         "parts", span, notes=["are YAML aliases repeating a long layer string?",
                                               "hint: write repeated layers once, in a block or "
                                               "a repeat"])


Method = Callable[[Any, Tree[Token], list[Any]], Any]
try:  # lark's wrapper for @v_args(tree=True): without it, lark's own dispatch serves
    from lark.visitors import _vargs_tree
except ImportError:  # pragma: no cover - another lark
    _vargs_tree = None  # type: ignore[assignment]


@cache
def _methods(cls: type) -> dict[str, Method]:
    """A lowering class's rule methods, called directly: lark's own dispatch makes a new
    v_args wrapper (functools.update_wrapper) on every call, which was most of the time of
    reading a large spec. Rules with another kind of wrapper keep lark's dispatch."""
    methods: dict[str, Method] = {}
    for klass in reversed(cls.__mro__):
        for name, raw in vars(klass).items():
            if name.startswith("_"):
                continue
            base = getattr(raw, "base_func", None)
            if base is not None and getattr(raw, "visit_wrapper", None) is _vargs_tree:
                methods[name] = (lambda f: lambda self, node, children: f(
                    self, Tree(node.data, children, node.meta)))(base)
            elif base is None and inspect.isfunction(raw) and name not in _TRANSFORMER_NAMES:
                methods[name] = (lambda f: lambda self, node, children: f(self, children))(raw)
            else:
                methods.pop(name, None)
    return methods


_TRANSFORMER_NAMES = frozenset(dir(Transformer))


def _transform(lower: _Lower, tree: Any) -> Any:
    """lark's Transformer.transform without recursion: children first, with an explicit stack.

    lark recurses once per tree level, and a sum of 1,000 terms is a tree 1,000 levels deep
    (the grammar is left-recursive), which overflowed Python's stack."""
    results: list[Any] = []
    starts: list[int] = []
    todo: list[tuple[Any, bool]] = [(tree, False)]
    methods = _methods(type(lower))
    while todo:
        node, expanded = todo.pop()
        if not isinstance(node, Tree):
            results.append(lower._call_userfunc_token(node)  # type: ignore[no-untyped-call]
                           if isinstance(node, Token) and node.type in methods
                           else node)
        elif not expanded:
            starts.append(len(results))
            todo.append((node, True))
            todo.extend((child, False) for child in reversed(node.children))
        else:
            start = starts.pop()
            children = [c for c in results[start:] if c is not Discard]
            del results[start:]
            method = methods.get(node.data)
            results.append(method(lower, node, children) if method is not None
                           else lower._call_userfunc(node, children))  # type: ignore[no-untyped-call]
    return results[0]


def parse_layer(
    text: str, source: Source | None = None, line: int = 1, column: int = 1,
    locate: Locate | None = None,
) -> ast.Call | ast.Ref | ast.Sequence:
    """Parse one layer string (`a; b; c` is a sequence); `line`/`column` say where it starts
    (or `locate` maps every position, for a string not written as it reads)."""
    node = _parse(text, "layer", source, line, column, "layer", locate)
    assert isinstance(node, (ast.Call, ast.Ref, ast.Sequence))
    return node


def parse_expression(
    text: str, source: Source | None = None, line: int = 1, column: int = 1,
    locate: Locate | None = None,
) -> ast.Expr:
    node = _parse(text, "expression", source, line, column, "expression", locate)
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
    if not literal.isascii():
        odd = next(i for i, c in enumerate(text) if not c.isascii())
        known = lookalikes.known_names(source.text if source else text)
        message, notes, suggestions = lookalikes.explain(
            text[slice(*lookalikes.word_at(text, odd))], "an entry name", known)
        raise ArchcError(message, span, found=repr(text), notes=notes, suggestions=suggestions)
    if "{" in literal or "}" in literal or not re.fullmatch(r"[A-Za-z0-9_-]*", literal):
        raise ArchcError("an entry name may hold letters, digits, _, - and {expression} parts",
                         span, found=repr(text))
    return tuple(parts)
