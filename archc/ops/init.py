"""Weight initialisation: one table of schemes, and everything derived from it.

Input: nothing at import time (the table is written here). Output: `SCHEMES`, name → `Scheme`
(the numbers it takes and their bounds, whether it needs a matrix, its doc, the code it runs as
text over the weight `w` and the numbers by name); derived from it, the ops' `init` attribute
(`init_attr`, its doc `INIT_DOC`), the check every op with weights makes (`check_init`), and
`initializer_lines()`, the source of the `initialized` helper that generated code calls. Torch-
free: the code is text that the Python backend writes into the generated file; archc itself
never runs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archc.errors import suggest
from archc.ops.registry import (
    DEFAULT_INIT,
    FLOAT,
    FLOAT32_MAX,
    Attr,
    Attrs,
    OpError,
    Shape,
    Type,
)


@dataclass(frozen=True)
class Number:
    """One number a scheme takes (`['normal', std]`), with the values it accepts."""

    name: str  # as the spec's form, the messages and the code call it
    fits: Callable[[float], bool]
    problem: str  # what is wrong with a value that does not fit: "must not be negative"
    expected: str  # what would fit, in words


@dataclass(frozen=True)
class Scheme:
    """One weight initialisation scheme.

    `code` is a Python expression over the weight `w`, `nn` (torch.nn) and the numbers by
    name, which initialises `w` in place; None for the default, which leaves PyTorch's own
    initialisation and so emits no code. `matrix` schemes need a weight of at least 2 dims
    (fan in and fan out).
    """

    name: str
    code: str | None
    numbers: tuple[Number, ...] = ()
    matrix: bool = False
    note: str = ""  # said after its form in the attribute's doc: "(PyTorch's)"

    @property
    def form(self) -> str:
        """How a spec writes it: 'zeros', ['normal', std]."""
        if not self.numbers:
            return f"'{self.name}'"
        return f"['{self.name}', {', '.join(n.name for n in self.numbers)}]"

    @property
    def doc(self) -> str:
        """Its fragment of the `init` attribute's doc."""
        return f"{self.form} {self.note}" if self.note else self.form


STD = Number("std", lambda v: v >= 0, "must not be negative", "a std ≥ 0")  # nan fails too
# a constant is stored in a float32 weight: beyond float32's range only inf is a value
FLOAT32_VALUE = Number("value", lambda v: not math.isfinite(v) or abs(v) <= FLOAT32_MAX,
                       "does not fit a float32 weight",
                       f"a value of at most {FLOAT32_MAX:.7g} in magnitude (or inf)")
# kaiming as torchvision's ResNet and VGG initialise their convolutions (fan_out, relu gain)
KAIMING = 'mode="fan_out", nonlinearity="relu"'

SCHEMES: dict[str, Scheme] = {scheme.name: scheme for scheme in (
    Scheme(DEFAULT_INIT, None, note="(PyTorch's)"),
    Scheme("kaiming_normal", f"nn.init.kaiming_normal_(w, {KAIMING})", matrix=True),
    Scheme("kaiming_uniform", f"nn.init.kaiming_uniform_(w, {KAIMING})", matrix=True),
    Scheme("xavier_normal", "nn.init.xavier_normal_(w)", matrix=True),
    Scheme("xavier_uniform", "nn.init.xavier_uniform_(w)", matrix=True),
    Scheme("zeros", "nn.init.zeros_(w)"),
    Scheme("ones", "nn.init.ones_(w)"),
    Scheme("normal", "nn.init.normal_(w, 0.0, std)", (STD,)),
    Scheme("constant", "nn.init.constant_(w, value)", (FLOAT32_VALUE,)),
)}

BIAS_DOC = f"other than '{DEFAULT_INIT}', the bias starts at zero"  # as torchvision does
INIT_DOC = ("weight initialisation: " + ", ".join(s.doc for s in SCHEMES.values())
            + f"; {BIAS_DOC}")


def _one_of(forms: Sequence[str]) -> str:
    """'a', 'b' or 'c'."""
    return forms[0] if len(forms) == 1 else f"{', '.join(forms[:-1])} or {forms[-1]}"


# ------------------------------------------------------------------ the attribute


def _scheme(value: Any) -> str | tuple[Any, ...]:
    """A scheme as a spec gives it: a name, or a list of a name and its numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        return (value[0], *(FLOAT.check(v) for v in value[1:]))
    raise TypeError


INIT = Type("a scheme name or [name, number]", _scheme)


def init_attr() -> Attr:
    """The keyword-only `init` attribute of the ops with weights."""
    return Attr("init", INIT, DEFAULT_INIT, INIT_DOC, keyword_only=True)


def _scheme_text(scheme: str | tuple[Any, ...]) -> str:
    """A scheme as the spec writes it: 'zeros', ['normal', 0.01]."""
    if isinstance(scheme, str):
        return repr(scheme)
    return "[" + ", ".join(repr(v) for v in scheme) + "]"


def check_init(op: str, attrs: Attrs, weight: Shape | None) -> None:
    """An `init` the op can apply: a known scheme with its numbers, on a weight that exists
    (`weight` is its shape, None when the layer has none) and has the dims the scheme needs."""
    given = attrs.get("init", DEFAULT_INIT)
    name: str = given if isinstance(given, str) else given[0]
    numbers: tuple[float, ...] = () if isinstance(given, str) else tuple(given[1:])
    scheme = SCHEMES.get(name)
    if scheme is None:
        close = suggest(name, SCHEMES)
        raise OpError(f"{op}: unknown init scheme '{name}'", attr="init",
                      expected=", ".join(repr(s) for s in SCHEMES), found=repr(name),
                      notes=[f"did you mean '{close[0]}'?"] if close else [])
    wanted = len(scheme.numbers)
    if len(numbers) != wanted:
        raise OpError(f"{op}: init '{name}' takes {wanted or 'no'} "
                      f"number{'' if wanted == 1 else 's'}", attr="init",
                      expected=scheme.form, found=_scheme_text(given))
    for number, value in zip(scheme.numbers, numbers, strict=True):
        if not number.fits(value):
            raise OpError(f"{op}: the {number.name} of init '{name}' {number.problem}",
                          attr="init", expected=number.expected, found=str(value))
    if scheme.code is None:  # the default: PyTorch's own, whatever the weight
        return
    if weight is None:
        raise OpError(f"{op}: init '{name}' needs a weight, and this layer has none",
                      attr="init", notes=["affine=false (or elementwise_affine=false) "
                                          "removes the weight"])
    if scheme.matrix and len(weight) < 2:
        vector = [s.form for s in SCHEMES.values() if s.code is not None and not s.matrix]
        raise OpError(f"{op}: init '{name}' needs a weight of at least 2 dims",
                      attr="init", expected=_one_of(vector),
                      found=f"a weight of shape {list(weight)}")


# ------------------------------------------------------------------ the generated helper

LINE = 99  # the generated lines at most: PEP 8's longest (the template it replaces wrapped so)


def _wrapped(line: str) -> list[str]:
    """A long entry broken after its last argument that fits, the rest aligned after the
    call's opening parenthesis (as a person would write it)."""
    if len(line) <= LINE or ", " not in line[:LINE]:
        return [line]
    cut = line.rindex(", ", 0, LINE)
    return [line[:cut + 1], " " * (line.index("(") + 1) + line[cut + 2:]]


def initializer_lines() -> list[str]:
    """The source of `initialized(module, scheme) -> module`, which generated code wraps a
    constructor in (`initialized(nn.Conv2d(3, 64, 3), "kaiming_normal")`,
    `initialized(nn.Linear(512, 10), ("normal", 0.01))`): it initialises the weight by the
    scheme's code, the numbers passed by name, and zeroes the bias."""
    entries = []
    for scheme in SCHEMES.values():
        if scheme.code is None:
            continue  # the default makes no `initialized` call
        arguments = ", ".join(["w", *(n.name for n in scheme.numbers)])
        entries += _wrapped(f'        "{scheme.name}": lambda {arguments}: {scheme.code},')
    return [
        "def initialized(module: nn.Module, scheme: str | tuple) -> nn.Module:",
        '    """Initialise the weight as the spec says; the bias starts at zero (as torchvision',
        '    does)."""',
        "    name, *numbers = (scheme,) if isinstance(scheme, str) else scheme",
        "    schemes = {",
        *entries,
        "    }",
        "    schemes[name](module.weight, *numbers)",
        '    if getattr(module, "bias", None) is not None:',
        "        nn.init.zeros_(module.bias)",
        "    return module",
    ]
