"""Expression evaluation: an expression node + an environment → a bounded value.

Input: an `archc.expr.nodes` expression, the names in scope (parameters, loop variables) and
the shape flowing in (`in`). Output: an int, float, bool, string, none, list or shape value,
or an ArchcError at the expression's span. Never Python's eval: every operator and function is
a table entry here, every value is bounded (int64, list and string sizes) and every step is
paid from the elaboration's `Budget`, so no spec can keep archc busy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from archc.dims import Shape  # the shape type sits below the ops, as expressions do
from archc.errors import ArchcError, Span, suggest
from archc.expr import nodes
from archc.format import format_shape, short_value
from archc.limits import MAX_STEPS


@dataclass(frozen=True)
class ShapeValue:
    """The value of `in`: the shape flowing into an entry."""

    shape: Shape

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("c", "h", "w", "d", "l", "features", "shape", "rank")
    ALIASES: ClassVar[dict[str, str]] = {
        "channels": "c", "height": "h", "width": "w", "depth": "d", "length": "l",
    }

    def attribute(self, name: str) -> Any:
        dims = self.shape[1:]
        spatial = self.shape[2:]
        table: dict[str, Callable[[], Any]] = {
            "c": lambda: self.shape[1] if len(self.shape) >= 2 else None,
            "h": lambda: spatial[-2] if len(spatial) >= 2 else None,
            "w": lambda: spatial[-1] if len(spatial) >= 1 else None,
            "d": lambda: spatial[-3] if len(spatial) >= 3 else None,
            "l": lambda: spatial[-1] if len(spatial) == 1 else None,
            "features": lambda: self.shape[-1],
            "shape": lambda: list(dims),
            "rank": lambda: len(self.shape),
        }
        name = self.ALIASES.get(name, name)
        if name not in table:
            raise KeyError(name)
        return table[name]()


INT64 = 2**63 - 1  # PyTorch's sizes and counts are 64-bit integers
MAX_ITEMS = 100_000  # elements of one list value, nested lists counted in full
MAX_STRING = 100_000  # characters of one string value


def _numbers(values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _reduce(function: Callable[..., Any]) -> Callable[..., Any]:
    """min / max / sum over numbers: `f(a, b, ...)` or `f([a, b, ...])`, never over lists of
    lists or strings (their sums concatenate: unbounded work for a few characters)."""
    def run(*args: Any) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        if not items or not _numbers(items):
            raise TypeError(f"{function.__name__} takes numbers, or one list of numbers")
        return function(items)

    return run


def _length(*args: Any) -> int:
    if len(args) != 1 or not isinstance(args[0], (list, str)):
        raise TypeError("len takes one list or string")
    return len(args[0])


def _numeric(function: Callable[..., Any], arity: int) -> Callable[..., Any]:
    """A function of numbers only (abs, round, floor, ceil)."""
    def run(*args: Any) -> Any:
        if not 1 <= len(args) <= arity or not _numbers(args):
            raise TypeError(f"{function.__name__} takes {'a number' if arity == 1 else 'numbers'}")
        return function(*args)

    return run


def _convert(function: Callable[..., Any]) -> Callable[..., Any]:
    """int / float of one number or numeric string (no base argument)."""
    def run(*args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], (int, float, str)):
            raise TypeError(f"{function.__name__} takes one number or string")
        return function(args[0])

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": _reduce(min),
    "max": _reduce(max),
    "abs": _numeric(abs, 1),
    "round": _numeric(round, 2),
    "floor": _numeric(math.floor, 1),
    "ceil": _numeric(math.ceil, 1),
    "len": _length,
    "int": _convert(int),
    "float": _convert(float),
    "sum": _reduce(sum),
}


def _any_arguments(args: Sequence[nodes.Expr]) -> bool:
    return True


def _list_or_several(args: Sequence[nodes.Expr]) -> bool:
    return len(args) >= 2 or _one_list(args)


def _one_list(args: Sequence[nodes.Expr]) -> bool:
    return len(args) == 1 and isinstance(args[0], nodes.ListExpr)


# The functions above whose value is that of Python's builtin of the same name, for the
# arguments a check accepts: generated source writes those calls as Python
# (archc.expr.printer). Wherever archc's function gives a value, Python's gives the same (it
# may also give one where archc refuses: abs(true)). Python refuses min(3) and sum(1, 2),
# which archc reads as 3; floor and ceil are not builtins.
SAME_IN_PYTHON: dict[str, Callable[[Sequence[nodes.Expr]], bool]] = {
    "min": _list_or_several,
    "max": _list_or_several,
    "sum": _one_list,
    "abs": _any_arguments,
    "round": _any_arguments,
    "len": _any_arguments,
    "int": _any_arguments,
    "float": _any_arguments,
}


def _arithmetic(operation: Callable[[Any, Any], Any], power: bool = False
                ) -> Callable[[Any, Any], Any]:
    """`- / // % **` on numbers only (on a string Python's % formats it, and a format width
    can ask for gigabytes)."""
    def run(a: Any, b: Any) -> Any:
        if not _numbers((a, b)):
            raise TypeError
        if (power and isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b > 0
                and b * math.log2(abs(a)) > 64):
            raise OverflowError  # known too large before Python computes its digits
        result = operation(a, b)
        if isinstance(result, complex):  # (-8) ** 0.5
            raise ValueError("a negative number to a fractional power")
        return result

    return run


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": _arithmetic(lambda a, b: a - b),
    "*": lambda a, b: a * b,
    "/": _arithmetic(lambda a, b: a / b),
    "//": _arithmetic(lambda a, b: a // b),
    "%": _arithmetic(lambda a, b: a % b),
    "**": _arithmetic(lambda a, b: a**b, power=True),
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def size_of(value: Any) -> int:
    """How many elements a value holds (a string its characters, nested lists in full)."""
    if isinstance(value, list):  # an empty list still counts: [[]] * n holds n lists
        return max(1, sum(size_of(v) for v in value))
    if isinstance(value, str):
        return len(value)
    return 1


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, ShapeValue):
        return "a shape"
    return "none" if value is None else type(value).__name__


class Budget:
    """The work one elaboration may do. Entries elaborated, repeat iterations and expression
    steps all count, so that no spec (nested empty repeats, a large expression evaluated in
    a loop) keeps `check` busy for long."""

    def __init__(self, steps: int) -> None:
        self.limit = steps
        self.left = steps

    def spend(self, span: Span) -> None:
        self.left -= 1
        if self.left < 0:
            self.exhausted(span)

    def spend_many(self, steps: int, span: Span) -> None:
        """Work proportional to a value's size (copying or comparing a long list)."""
        self.left -= steps
        if self.left < 0:
            self.exhausted(span)

    def exhausted(self, span: Span) -> None:
        raise ArchcError(
            f"the spec passes the work limit: more than {self.limit:,} steps of elaboration",
            span, notes=["repeat iterations, entries and expression steps count; nested "
                         "repeats multiply: check the repeat counts",
                         "to raise the limit: archc --max-steps N, or "
                         "archc.Limits(max_steps=N)"])


class Evaluator:
    """Evaluates expressions over an environment; never Python's eval. Every value stays
    bounded: integers fit int64, lists hold at most MAX_ITEMS elements and strings at most
    MAX_STRING characters, and each step is paid from the elaboration's budget."""

    def __init__(self, env: Mapping[str, Any], shape: Shape | None,
                 budget: Budget | None = None,
                 sizes_read: Callable[[], None] | None = None) -> None:
        self.env = env
        self.shape = shape
        self.budget = budget or Budget(MAX_STEPS)
        # told when a value depends on a size of `in` other than its channels and rank (so
        # the elaborator knows whether its network's structure depends on the input's sizes)
        self.sizes_read = sizes_read

    def __call__(self, expr: nodes.Expr) -> Any:
        self.budget.spend(expr.span)
        kind = type(expr)
        if kind is nodes.Literal:  # most arguments: `3`, `padding=1`, `bias=false`
            return self.bounded(expr.value, expr.span)  # type: ignore[union-attr]
        method: Callable[[Any], Any] = getattr(self, "eval_" + kind.__name__)
        try:
            return method(expr)
        except RecursionError:  # the deepest expression says where (sums are iterative)
            raise ArchcError("the expression nests too deeply to evaluate", expr.span,
                             notes=["hint: name its parts as parameters"]) from None

    @staticmethod
    def bounded(value: Any, span: Span) -> Any:
        """`value`, if archc can hold it; else a located error."""
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64:
            raise ArchcError("number too large", span,
                             expected=f"an integer of at most 64 bits (|n| ≤ {INT64:,})",
                             found=f"{value.bit_length()} bits")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise ArchcError("string too long", span,
                             expected=f"at most {MAX_STRING:,} characters", found=f"{len(value):,}")
        return value

    def eval_Literal(self, expr: nodes.Literal) -> Any:
        return self.bounded(expr.value, expr.span)

    def eval_Name(self, expr: nodes.Name) -> Any:
        if expr.id in self.env:
            return self.env[expr.id]
        candidates = [*self.env, *FUNCTIONS]
        raise ArchcError(f"undefined name '{expr.id}'", expr.span,
                         suggestions=suggest(expr.id, candidates),
                         notes=["names in expressions are parameters, loop variables and in"])

    def eval_InShape(self, expr: nodes.InShape) -> Any:
        value = self._in(expr)
        if self.sizes_read is not None:  # `in` as a whole: its sizes may be read
            self.sizes_read()
        return value

    def _in(self, expr: nodes.InShape) -> ShapeValue:
        if self.shape is None:
            raise ArchcError("'in' is only defined inside an entry", expr.span)
        return ShapeValue(self.shape)

    def eval_ListExpr(self, expr: nodes.ListExpr) -> Any:
        items = [self(item) for item in expr.items]
        return self.sized(items, sum(size_of(i) for i in items), expr.span)

    def sized(self, value: Any, size: int, span: Span) -> Any:
        """`value` (of `size` elements) if it is small enough; building it is paid for."""
        if size > MAX_ITEMS:
            raise ArchcError("value too large", span, expected=f"at most {MAX_ITEMS:,} "
                             "elements in a list (nested lists counted in full)",
                             found=f"{size:,}")
        self.budget.spend_many(size, span)
        return value

    def eval_Unary(self, expr: nodes.Unary) -> Any:
        value = self(expr.operand)
        if expr.op == "not":
            return not value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ArchcError(f"'{expr.op}' needs a number", expr.span, found=type_name(value))
        return self.bounded(-value if expr.op == "-" else value, expr.span)

    def eval_Binary(self, expr: nodes.Binary) -> Any:
        if expr.op == "and":
            return self(expr.left) and self(expr.right)
        if expr.op == "or":
            return self(expr.left) or self(expr.right)
        # a chain `a + b + c + ...` nests to the left as deep as it is long: walk it in a loop
        chain = [expr]
        leftmost = expr.left
        while isinstance(leftmost, nodes.Binary) and leftmost.op not in ("and", "or"):
            chain.append(leftmost)
            leftmost = leftmost.left
        value = self(leftmost)
        for link in reversed(chain):
            if link is not expr:
                self.budget.spend(link.span)
            value = self.combine(link, value, self(link.right))
        return value

    def combine(self, expr: nodes.Binary, left: Any, right: Any) -> Any:
        """`left op right` for one binary operator (not and/or), bounded."""
        # the size of a + or * of lists and strings is known before it is built
        sequences = [v for v in (left, right) if isinstance(v, (list, str))]
        if sequences and expr.op not in ("+", "*"):  # comparisons walk both
            self.budget.spend_many(sum(size_of(v) for v in sequences), expr.span)
        if expr.op == "+" and len(sequences) == 2:
            self.sized(None, size_of(left) + size_of(right), expr.span)
        if expr.op == "*" and len(sequences) == 1:
            count = right if sequences[0] is left else left
            if isinstance(count, int) and not isinstance(count, bool):
                self.sized(None, size_of(sequences[0]) * max(count, 0), expr.span)
        try:
            result = _BINARY[expr.op](left, right)
        except ZeroDivisionError:
            raise ArchcError("division by zero", expr.span) from None
        except OverflowError:
            raise ArchcError("number too large", expr.span,
                             expected=f"an integer of at most 64 bits (|n| ≤ {INT64:,}) or a "
                             "finite float") from None
        except (TypeError, ValueError) as error:
            raise ArchcError(
                f"'{expr.op}' cannot combine {type_name(left)} and {type_name(right)}",
                expr.span, found=f"{short_value(left)} {expr.op} {short_value(right)}",
                notes=[str(error)] if str(error) else [],
            ) from None
        return self.bounded(result, expr.span)

    def eval_Conditional(self, expr: nodes.Conditional) -> Any:
        return self(expr.body) if self(expr.test) else self(expr.orelse)

    def eval_Index(self, expr: nodes.Index) -> Any:
        value, index = self(expr.value), self(expr.index)
        if isinstance(value, ShapeValue):
            value = list(value.shape[1:])
        if not isinstance(value, (list, str)):
            raise ArchcError("only lists can be indexed", expr.span, found=type_name(value))
        if isinstance(index, bool) or not isinstance(index, int):
            raise ArchcError("an index must be an integer", expr.index.span,
                             found=type_name(index))
        if not -len(value) <= index < len(value):
            raise ArchcError(f"index {index} is out of range", expr.index.span,
                             expected=f"an index below {len(value)}", found=repr(value))
        return value[index]

    def eval_Attribute(self, expr: nodes.Attribute) -> Any:
        if isinstance(expr.value, nodes.InShape):  # `in.c`: only that attribute is read
            self.budget.spend(expr.value.span)
            value: Any = self._in(expr.value)
            name = ShapeValue.ALIASES.get(expr.name, expr.name)
            # the rank, and the channels of a tensor with spatial dims, are the same at
            # every input size (a tensor without them may be a flattened image: its
            # features are a size)
            if self.sizes_read is not None and not (
                    name == "rank" or (name == "c" and len(value.shape) >= 3)):
                self.sizes_read()
        else:
            value = self(expr.value)
        if not isinstance(value, ShapeValue):
            raise ArchcError(f"'.{expr.name}': only shapes (in) have attributes", expr.span,
                             found=type_name(value))
        try:
            result = value.attribute(expr.name)
        except KeyError:
            raise ArchcError(f"a shape has no attribute '{expr.name}'", expr.span,
                             expected=", ".join(ShapeValue.ATTRIBUTES),
                             suggestions=self._shape_suggestions(expr.name)) from None
        if result is None:
            raise ArchcError(f"in.{expr.name} is not defined for a {format_shape(value.shape)}"
                             " input", expr.span)
        return result

    @staticmethod
    def _shape_suggestions(name: str) -> list[str]:
        aliases = ShapeValue.ALIASES
        found = suggest(name, [*ShapeValue.ATTRIBUTES, *aliases])
        return list(dict.fromkeys(aliases.get(f, f) for f in found))

    def eval_FunctionCall(self, expr: nodes.FunctionCall) -> Any:
        if expr.func not in FUNCTIONS:
            raise ArchcError(f"unknown function '{expr.func}'", expr.span,
                             expected=", ".join(FUNCTIONS),
                             suggestions=suggest(expr.func, FUNCTIONS))
        args = [self(a) for a in expr.args]
        if expr.func in ("min", "max", "sum"):  # they walk their list
            self.budget.spend_many(sum(size_of(a) for a in args), expr.span)
        try:
            return self.bounded(FUNCTIONS[expr.func](*args), expr.span)
        except (TypeError, ValueError, OverflowError) as error:
            raise ArchcError(f"{expr.func}(...) failed: {error}", expr.span) from None


def to_value(value: Any) -> Any:
    """Expression values as op attributes: lists become tuples, shapes their dims."""
    if isinstance(value, list):
        return tuple(to_value(v) for v in value)
    if isinstance(value, ShapeValue):
        return tuple(value.shape[1:])
    return value
