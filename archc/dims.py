"""Dimensions of a tensor shape: a size is a number, or a named symbol with known bounds.

Input: nothing (a type and its helpers). Output: `Symbol`, `Dim`, `Shape`, `BATCH` and the
helpers that shape rules and their consumers use instead of asking whether a dim is known
(`is_static`, `static_dims`, `numel`). Torch-free and at the bottom of the package (it imports
nothing of archc), so the expression evaluator and the formatting module can name a shape too.

The batch is the first symbol: every shape starts with `BATCH` (`N`). Others (a sequence
length `L`, a symbolic height) are any size between their bounds, fixed only when the network
runs; a rule that needs a number there refuses the symbol (archc.ops.registry.known).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the checker (typeshed has it); archc needs no typing_extensions
    from typing_extensions import TypeIs


@dataclass(frozen=True)
class Symbol:
    """A dimension known by name: any size from `low` to `high` (None: no upper bound).

    Frozen, so it hashes and compares by its name and bounds, and pickles as plain data.
    """

    name: str
    low: int = 1
    high: int | None = None

    def __post_init__(self) -> None:
        # a symbol is printed by its name inside shapes: it must read as one
        if not self.name.isidentifier():
            raise ValueError(f"a dimension symbol is named by an identifier, not {self.name!r}")
        if self.low < 0 or (self.high is not None and self.high < self.low):
            raise ValueError(f"{self.name}: bounds {self.low}..{self.high} are empty")

    def __str__(self) -> str:
        return self.name

    @property
    def bounds(self) -> str:
        """`1 ≤ L ≤ 512` (or `L ≥ 1` without an upper bound), for messages."""
        if self.high is None:
            return f"{self.name} ≥ {self.low}"
        return f"{self.low} ≤ {self.name} ≤ {self.high}"


Dim = int | Symbol
Shape = tuple[Dim, ...]
BATCH = Symbol("N")  # index 0 of every shape


def is_static(dim: Dim) -> TypeIs[int]:
    """The dim is a number, known before the network runs (else a Symbol: both branches
    narrow)."""
    return not isinstance(dim, Symbol)


def static_dims(shape: Shape) -> tuple[int, ...]:
    """The dims of `shape` that are numbers, in order (the symbols left out)."""
    return tuple([d for d in shape if not isinstance(d, Symbol)])  # a hot helper: no call


def numel(shape: Shape) -> int:
    """The elements of `shape` per value of its symbols: the product of the known dims (per
    sample for an activation, whose only symbol is the batch; all of it for a weight)."""
    return prod(static_dims(shape))
