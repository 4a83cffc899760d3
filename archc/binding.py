"""Argument binding: a call's written arguments + a signature → values, spans and sources.

Input: a `Signature` (an op's or a block's: its slots, in order), the arguments of a call as
written (`ast.Argument`, positional then keyword) and a function that evaluates one argument.
Output: a `Bound`, for each argument given, its value, the span it was written at (errors
about one argument point there) and the expression it was written as (codegen writes the
expression where it only uses the block's parameters). Ops and blocks bind the same way, so
their rules (order, counts, unknown and repeated names, "did you mean") are said once; what
differs after binding (an op's type checks and defaults, a block's default expressions) is
the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from archc.errors import ArchcError, Span, suggest
from archc.expr.nodes import Expr
from archc.frontend import ast
from archc.ops.registry import Op


@dataclass(frozen=True)
class Slot:
    """One parameter of a signature."""

    name: str
    positional: bool = True  # may be given by position (else keyword only)
    variadic: bool = False  # collects every positional argument when several are given


@dataclass(frozen=True)
class Signature:
    owner: str  # the subject of messages: "conv", "block inception"
    text: str  # what a call looks like, for "expected:": conv(out_channels, kernel_size, ...)
    slots: tuple[Slot, ...]
    noun: str = "argument"  # what a slot is called: an op's argument, a block's parameter

    @classmethod
    def of_op(cls, op: Op) -> Signature:
        known = _OP_SIGNATURES.get(op.name)
        if known is not None and known[0] is op:
            return known[1]
        # inferred sizes may be passed by keyword (they must then agree with the input)
        signature = cls(op.name, op.signature(), tuple(
            Slot(a.name, not a.inferred and not a.keyword_only, a.variadic) for a in op.attrs))
        _OP_SIGNATURES[op.name] = op, signature
        return signature

    @classmethod
    def of_block(cls, block: ast.BlockDef, tensors: tuple[str, ...] = ()) -> Signature:
        """A block's parameters; those given tensors (`skip=@enc3`) are bound apart."""
        names = ", ".join(p.name for p in block.params)
        return cls(f"block {block.name}", f"{block.name}({names})",
                   tuple(Slot(p.name) for p in block.params if p.name not in tensors),
                   "parameter")

    def slot(self, name: str) -> Slot | None:
        return self.by_name.get(name)

    @cached_property
    def by_name(self) -> dict[str, Slot]:
        return {s.name: s for s in self.slots}

    @cached_property
    def positional_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.positional]

    @cached_property
    def variadic(self) -> Slot | None:
        return next((s for s in self.positional_slots if s.variadic), None)


# op name → (the op, its signature): the same for every elaboration while the op is the same
_OP_SIGNATURES: dict[str, tuple[Op, Signature]] = {}


@dataclass
class Bound:
    """The arguments a call gave, by slot name, in signature order of binding."""

    values: dict[str, Any] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    sources: dict[str, Expr] = field(default_factory=dict)


def _joined(first: Span, last: Span) -> Span:
    return Span(first.source, first.line, first.column, last.end_line, last.end_column)


def bind(signature: Signature, args: Sequence[ast.Argument],
         evaluate: Callable[[Expr], Any]) -> Bound:
    """Match `args` to `signature`'s slots and evaluate each (raises a located ArchcError)."""
    _check_order(args)
    bound = Bound()
    positional = [a for a in args if a.name is None]
    slots = signature.positional_slots
    variadic = signature.variadic
    if variadic is not None and len(positional) > 1:
        bound.values[variadic.name] = tuple(evaluate(_expr(a)) for a in positional)
        bound.spans[variadic.name] = _joined(positional[0].span, positional[-1].span)
        positional = []  # a variadic's expressions are not kept: codegen writes its values
    if len(positional) > len(slots):
        raise ArchcError(
            f"{signature.owner} takes {len(slots)} positional argument"
            f"{'' if len(slots) == 1 else 's'}", positional[len(slots)].span,
            expected=f"at most {len(slots)} ({', '.join(s.name for s in slots) or 'none'})",
            found=f"{len(positional)}")
    for slot, arg in zip(slots, positional, strict=False):
        _give(bound, slot.name, arg, evaluate)
    for arg in args:
        if arg.name is None:
            continue
        if signature.slot(arg.name) is None:
            names = [s.name for s in signature.slots]
            raise ArchcError(f"{signature.owner} has no {signature.noun} '{arg.name}'", arg.span,
                             expected=signature.text, suggestions=suggest(arg.name, names))
        if arg.name in bound.values:
            raise ArchcError(f"{signature.owner}: '{arg.name}' is given twice", arg.span)
        _give(bound, arg.name, arg, evaluate)
    return bound


def _expr(arg: ast.Argument) -> Expr:
    """An argument's expression: a tensor argument (`skip=@enc3`) is never bound here, its
    block takes it apart, and an op refuses it before binding."""
    assert not isinstance(arg.value, ast.Ref), arg.span
    return arg.value


def _give(bound: Bound, name: str, arg: ast.Argument, evaluate: Callable[[Expr], Any]) -> None:
    bound.values[name] = evaluate(_expr(arg))
    bound.spans[name] = arg.span
    bound.sources[name] = _expr(arg)


def _check_order(args: Sequence[ast.Argument]) -> None:
    # by position: arguments compare by value, and comparing expressions is slow
    first = next((i for i, a in enumerate(args) if a.name is not None), None)
    if first is None:
        return
    keyword = args[first]
    for arg in args[first + 1:]:
        if arg.name is None:
            raise ArchcError(
                "positional argument after a keyword argument", arg.span,
                notes=[f"positional arguments come first; '{keyword.name}=' is given before "
                       "this one"])


def missing(signature: Signature, name: str, span: Span) -> ArchcError:
    """The error for a required slot the call did not give."""
    return ArchcError(f"{signature.owner} is missing its argument '{name}'", span,
                      expected=signature.text)
