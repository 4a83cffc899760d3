"""The op registry: one entry per op, holding everything every stage needs to know about it.

Input: nothing at import time but the op modules' `register(...)` calls. Output: `OPS`, the
name → `Op` table that elaboration (argument binding, shape rule), analysis (parameter count,
MACs) and the backends (the PyTorch constructor or forward expression, as code) all read. No
stage branches on an op's name or kind: what they treat alike is declared, as the op's `Role`
and its fields; adding an op touches only its family module and its tests. Weight
initialisation schemes are the table in archc.ops.init.

Shapes are tuples of dims (archc.dims): a number, or a named `Symbol` with bounds; the batch,
index 0 of every shape, is the symbol `BATCH` (N). Rules pass symbols through where the size
does not matter (`x[0]`, an activation, a linear layer's leading dims) and take a number where
it does through `known`, which refuses a symbol naming the op and the dim.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Any, NamedTuple

from archc.dims import BATCH as BATCH  # the shape type and its helpers, re-exported
from archc.dims import Dim as Dim
from archc.dims import Shape as Shape
from archc.dims import Symbol as Symbol
from archc.dims import is_static as is_static
from archc.dims import numel as numel
from archc.dims import static_dims as static_dims
from archc.errors import suggest
from archc.format import format_shape as format_shape  # the rules' helper, re-exported
from archc.format import render_value

INT64_MAX = 2**63 - 1  # PyTorch's sizes, strides and counts are 64-bit integers
FLOAT32_BYTES = 4  # a tensor's bytes (elements × 4 for float32) must fit int64 as well
FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32: weights are float32

Attrs = Mapping[str, Any]


class Required:
    """Marks an attribute without a default."""

    def __repr__(self) -> str:
        return "required"


REQUIRED = Required()


class OpError(Exception):
    """A rule broken by an op's arguments or input shapes; elaboration adds the span.

    `attr` names the argument to underline when the user wrote it.
    """

    def __init__(
        self,
        message: str,
        *,
        attr: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr
        self.expected = expected
        self.found = found
        self.notes = list(notes)


# ------------------------------------------------------------------ attribute types


@dataclass(frozen=True)
class Type:
    """An attribute's type: a name for messages and a check that normalises a value."""

    name: str
    check: Callable[[Any], Any]  # returns the normalised value or raises TypeError


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _ints(value: Any) -> int | tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(_int(v) for v in value)
    return _int(value)


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        return None if value is None else check(value)

    return run


def _either(*checks: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        for check in checks:
            try:
                return check(value)
            except TypeError:
                continue
        raise TypeError

    return run


def _nested_floats(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_nested_floats(v) for v in value)
    return _float(value)


INT = Type("an integer", _int)
FLOAT = Type("a number", _float)


def _float32(value: Any) -> float:
    """A scalar the kernels take as a C float: torch refuses a finite value beyond float32's
    range ("cannot be converted to type float without overflow"); inf and nan pass."""
    number = _float(value)
    if math.isfinite(number) and abs(number) > FLOAT32_MAX:
        raise ValueError
    return number


FLOAT32 = Type("a number within float32's range (±3.4e38), or inf", _float32)
BOOL = Type("true or false", _bool)
STR = Type("a string", _str)
INTS = Type("an integer or a list of integers", _ints)
OPTIONAL_INT = Type("an integer or none", _optional(_int))
OPTIONAL_INTS = Type("an integer, a list of integers or none", _optional(_ints))
OPTIONAL_FLOAT = Type("a number or none", _optional(_float))
OPTIONAL_BOOL = Type("true, false or none", _optional(_bool))
PADDING = Type("an integer, a list of integers, 'same' or 'valid'", _either(_ints, _str))


def _each(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return tuple(check(v) for v in value)

    return run


SIZE = Type("an integer or a list of integers (none keeps a dimension)",
            _either(_int, _each(_optional(_int))))
OPTIONAL_SIZE = Type("an integer, a list of integers or none",
                     _optional(_either(_int, _each(_int))))
SCALE = Type("a number, a list of numbers or none",
             _optional(_either(_float, _each(_float))))
TENSOR = Type("a nested list of numbers", _optional(_nested_floats))


def _digits(value: int) -> str:
    """A huge integer as a user can read it: its leading digits and its length."""
    text = str(abs(value))
    sign = "-" if value < 0 else ""
    return f"{sign}{text}" if len(text) <= 30 else f"{sign}{text[:6]}... ({len(text)} digits)"


def _too_large(value: Any) -> int | None:
    """The first integer inside `value` (a number or nested lists) that does not fit int64."""
    if isinstance(value, (list, tuple)):
        return next((found for v in value if (found := _too_large(v)) is not None), None)
    if isinstance(value, int) and not isinstance(value, bool) and not (
            -INT64_MAX - 1 <= value <= INT64_MAX):
        return value
    return None


def fits_int64(op: str, attr: str, value: Any) -> None:
    """Refuse an argument holding an integer PyTorch cannot represent (every PyTorch size,
    stride and count is a 64-bit integer, and so is every integer archc's expressions make)."""
    huge = _too_large(value)
    if huge is not None:
        raise OpError(f"{op}: '{attr}' is too large: PyTorch sizes are 64-bit integers",
                      attr=attr, expected=f"an integer of at most {INT64_MAX:,} in magnitude",
                      found=_digits(huge))


@dataclass(frozen=True)
class FromInput:
    """Where an inferred attribute's value comes from: one dim of the first input's shape
    (1 for channels, -1 for features), named in messages as `what`."""

    dim: int
    what: str

    def of(self, op: str, inputs: Sequence[Shape]) -> int | None:
        """The size, None when the input has too few dims; a symbol there is refused (the
        layer's weight is sized by it)."""
        shape = inputs[0] if inputs else ()
        if len(shape) < 2:
            return None  # the op's own rule says what rank it needs
        return known(op, shape, self.dim, f"its {self.what}")


CHANNELS = FromInput(1, "channels")
FEATURES = FromInput(-1, "features (its last dim)")


@dataclass(frozen=True)
class Attr:
    """One argument of an op.

    `inferred` attributes (in_channels, in_features, num_features) are computed from the input
    shape; a user may still pass one, and it must agree: `from_input` says which dim it is, and
    every op checks that the same way (`register`). `keyword_only` ones are never positional.
    """

    name: str
    type: Type
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    inferred: bool = False
    keyword_only: bool = False
    variadic: bool = False  # collects the remaining positional arguments (permute, reshape)
    from_input: FromInput | None = None  # for inferred sizes: the input dim they must equal

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


# ------------------------------------------------------------------ code the backends emit


@dataclass(frozen=True)
class Construct:
    """A PyTorch constructor call as code: `nn.Conv2d(3, 64, 7, stride=2)`.

    `tensors` are parameters to overwrite after construction (a conv's fixed weights);
    `init` is the weight initialisation scheme the spec chose (None: PyTorch's own).
    """

    callee: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    tensors: tuple[tuple[str, Any], ...] = ()
    arg_names: tuple[str, ...] = ()  # the attribute each positional argument comes from
    init: str | tuple[Any, ...] | None = None
    # attribute → keyword where PyTorch names it otherwise (PReLU's `init` is archc's `value`)
    renamed: tuple[tuple[str, str], ...] = ()


class Helper(NamedTuple):
    """A class generated source defines for an op: its name and its lines (no indent), and
    the helpers it is written over (a base class), defined before it."""

    name: str
    lines: tuple[str, ...]
    needs: tuple[Helper, ...] = ()


# the weights of the ops a module holds as a parameter (an op's `held`: ConvNeXt's layer scale,
# ViT's class token and position embedding), as the generated file makes them (torch only)
PARAMETER = Helper("parameter", (
    "def parameter(*shape: int, value: float = 0.0, std: float = 0.0) -> nn.Parameter:",
    '    """A learnable tensor of `shape`, each element `value` at first, or drawn from',
    '    N(0, std²)."""',
    "    if std:",
    "        return nn.Parameter(torch.empty(shape).normal_(std=std))",
    "    return nn.Parameter(torch.full(shape, float(value)))",
))


# the `init` scheme that keeps PyTorch's own initialisation: no Construct.init (the schemes
# are archc.ops.init's table)
DEFAULT_INIT = "default"


def zero(attrs: Attrs, inputs: Sequence[Shape]) -> int:
    return 0


# ------------------------------------------------------------------ costs and windows


Count = Callable[[Attrs, Sequence[Shape], Shape], int]  # (attrs, inputs, output) -> a count


def per_element(cost: int) -> Count:
    """A FLOP rule: `cost` operations per output element."""
    return lambda attrs, inputs, output: cost * numel(output)


def with_bias(macs: Count) -> Count:
    """The FLOP rule of a conv or linear layer: 2 per MAC, and one add per output element for
    the bias."""
    def flops(attrs: Attrs, inputs: Sequence[Shape], output: Shape) -> int:
        return 2 * macs(attrs, inputs, output) + (numel(output) if attrs["bias"] else 0)

    return flops


WITH_BIAS = "2 per MAC, plus 1 per output element for the bias"


@dataclass(frozen=True)
class Window:
    """How one spatial dim of an op's output reads its input: output position o reads input
    positions o·stride − padding + j·dilation for j < kernel. Upsampling ops read with a
    fractional stride (input positions per output position) and padding."""

    kernel: int
    stride: int | Fraction = 1
    padding: int | Fraction = 0
    dilation: int = 1


# An op's reach: None for a pointwise op (output position i of each spatial dim reads input
# position i: activations, normalisation, merges); else one entry per spatial dim of the
# input, a Window, or None where the op reduces that dim entirely (global pooling, softmax
# over it). GLOBAL (no entries) says the output has no spatial layout (flatten, linear).
Reach = tuple[Window | None, ...] | None
GLOBAL: Reach = ()


def same_shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
    """The shape rule of an op whose output is shaped like its input."""
    return inputs[0]


def pointwise(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    return None


def everything(attrs: Attrs, inputs: Sequence[Shape]) -> Reach:
    return GLOBAL


def never(attrs: Attrs) -> bool:
    return False


class Role(enum.Enum):
    """What an op is in a network, declared by each op: the stages that treat kinds of ops
    alike (diagram fills and folds, lint, the merge syntax) read the role or what it says,
    never an op's name. The value is the heading the op reference and `archc ops` group the
    op under."""

    CONVOLUTION = "convolution"
    LINEAR = "linear"
    NORMALISER = "normalization"
    ACTIVATION = "activation"
    POOL = "pooling"
    MERGE = "merge"  # takes any number of branches: `concat { ... }`, YAML `add: [...]`
    RESHAPE = "reshape"
    RESIZE = "resize"
    DROPOUT = "regularization"
    SCALE = "scaling"  # a learnable factor per channel (layer scale)
    ATTENTION = "attention"
    EMBEDDING = "embedding"  # learned vectors a sequence takes on (class token, positions)
    IDENTITY = "misc"

    @property
    def weighted(self) -> bool:
        """A layer with a weight over its inputs (conv, linear): the op a diagram's
        conv-norm-activation fold is built around."""
        return self.fold_stage == 0

    @property
    def fold_stage(self) -> int | None:
        """Where the op sits in a conv-norm-activation fold: 0 the weighted op, then at most
        one normaliser (1) and at most one activation (2), in that order; None: never folds."""
        return _FOLD_STAGES.get(self)


_FOLD_STAGES = {Role.CONVOLUTION: 0, Role.LINEAR: 0, Role.NORMALISER: 1, Role.ACTIVATION: 2}


@dataclass(frozen=True)
class Op:
    """Everything about one op. Exactly one of `module` and `function` is set, or both for
    an op that is `chained` (a module in a sequence of modules, otherwise a function).

    - `role`: what kind of op it is (`Role`); `family`, the reference's heading, follows it;
    - `bias`: the boolean attribute that gives it a learnable bias (`has_bias(attrs)`);
      `reads_features` follows from an attribute inferred from FEATURES (linear);
    - `infer(attrs, inputs) -> attrs`: fills inferred attributes and checks the rules;
    - `shape(attrs, inputs) -> Shape`: the output shape;
    - `params(attrs, inputs)`: trainable parameter count; `buffers`: non-trainable state;
    - `macs(attrs, inputs, output)`: multiply-accumulates (conv, conv_transpose, linear);
      `macs_rule` says how, in words, for docs/ops.md;
    - `flops(attrs, inputs, output)`: the full operation count (2 per MAC, bias, and each
      op's stated cost per element); `flops_rule` says what is counted;
    - `window(attrs, inputs) -> Reach`: which input positions an output position reads, per
      spatial dim (receptive fields); `window_rule` in words;
    - `alias(attrs)`: the output is its first input's storage (a view, or written in place),
      so it allocates no memory;
    - `module(op, attrs, inputs) -> Construct`: the nn.Module this op becomes;
    - `function(attrs, args) -> str`: a forward expression over argument variables (merges,
      reshape): such ops hold no state and make no module;
    - `torch`: the PyTorch spellings of this op, modules (`nn.Conv2d`), functions (`F.conv2d`,
      `torch.cat`) and tensor methods (`Tensor.reshape`): every PyTorch name that this op
      computes, so that a spec written with one gets "did you mean" (`suggest_op`), and an
      importer can map a PyTorch model back to ops. A name belongs to one op only.
    """

    name: str
    attrs: tuple[Attr, ...]
    shape: Callable[[Attrs, Sequence[Shape]], Shape]
    doc: str
    role: Role
    infer: Callable[[Attrs, Sequence[Shape]], Attrs] = lambda attrs, inputs: attrs
    params: Callable[[Attrs, Sequence[Shape]], int] = zero
    buffers: Callable[[Attrs, Sequence[Shape]], int] = zero
    macs: Count = lambda a, i, o: 0
    flops: Count = lambda a, i, o: 0
    window: Callable[[Attrs, Sequence[Shape]], Reach] = pointwise
    alias: Callable[[Attrs], bool] = never
    module: Callable[[Op, Attrs, Sequence[Shape]], Construct] | None = None
    function: Callable[[Attrs, Sequence[str]], str] | None = None
    arity: int | None = 1  # None: any number of inputs (merges)
    # the output is the input itself (identity): the generated forward names it, no statement
    passthrough: bool = False
    # its backward does not read its output (a conv, a batch norm, a linear layer save their
    # input), so the op reading it next may write into it: torchvision's `out += identity`
    writable_output: bool = False
    # a merge's in-place form over its argument names, the result in the first (`a += b`):
    # generated forwards use it where the first argument is a writable output read only here
    accumulate: Callable[[Attrs, Sequence[str]], str | None] | None = None
    # a merge's form over one list of its branches' outputs (`torch.cat(branches, dim=1)`):
    # a named merge of numbered children is then an nn.ModuleList whose forward joins them
    gather: Callable[[Attrs, str], str] | None = None
    # a bias added just before this op is undone by it (batch norm subtracts the mean and
    # adds its own shift): the lint pass warns about the wasted parameters
    cancels_bias: Callable[[Attrs], bool] = never
    # the boolean attribute that gives the op a learnable bias on its output (conv, linear):
    # the lint pass reads it and names it in its hint
    bias: str | None = None
    shape_rule: str = ""  # the shape rule in words, for docs/ops.md
    macs_rule: str = ""  # the MAC count in words ("" means none)
    flops_rule: str = ""  # the FLOP count in words
    window_rule: str = "pointwise"  # the receptive-field rule in words
    key: Callable[[Attrs], str] = field(default=lambda attrs: "")  # short label: "3x3 /2, 64"
    torch: tuple[str, ...] = ()  # PyTorch's names for it: "nn.BatchNorm2d", "F.relu", ...
    # a module torch itself lacks (torchvision.ops.StochasticDepth): the class its constructor
    # calls, defined once at the top of every generated file that uses it, which stays
    # standalone (it imports only torch)
    helper: Helper | None = None
    # its module is a parameter tensor its parent holds under the entry's name (a state_dict
    # key `block.layer_scale`, as torchvision's ConvNeXt has), not a child module: forward
    # computes `call` over the inputs and, last, the parameter (`self.layer_scale`)
    held: bool = False
    # how forward uses its module where that is not `self.name(x)`: over the inputs' names
    # and, last, the module's attribute (`self.self_attention(x, x, x, need_weights=False)[0]`,
    # `self.layer_scale * x`); a module with such a child is a class with a forward
    call: Callable[[Attrs, Sequence[str]], str] | None = None
    # a functional op that is a module (its `module`, a `helper`) where it stands unnamed in a
    # sequence of unnamed calls that make modules, so that the sequence stays an nn.Sequential
    # whose children torch numbers by position (torchvision's Permute in ConvNeXt's block)
    chained: bool = False
    # the op whose PyTorch spelling this one shares, where it has none of its own (resize is
    # F.interpolate with a size read from a tensor; upsample owns that name)
    spelled_by: str | None = None
    # (attribute, merge): the attribute may name a tensor (`upsample(size=@x)`), and the call
    # is then that merge of its input and the tensor, given the call's other arguments
    sized_by: tuple[str, str] | None = None

    def construct(self, attrs: Attrs, inputs: Sequence[Shape]) -> Construct:
        """The PyTorch constructor call this op becomes (ops that make modules)."""
        assert self.module is not None, f"{self.name} makes no module"
        return self.module(self, attrs, inputs)

    def attr(self, name: str) -> Attr | None:
        return self.attr_table.get(name)

    @cached_property
    def attr_table(self) -> dict[str, Attr]:
        return {a.name: a for a in self.attrs}

    @cached_property
    def attr_order(self) -> dict[str, int]:
        """Each attribute's position: generated code writes keyword arguments in this order."""
        return {a.name: i for i, a in enumerate(self.attrs)}

    @cached_property
    def inferred_names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attrs if a.inferred)

    @property
    def family(self) -> str:
        """The heading the op reference and `archc ops` list the op under: its role's."""
        return str(self.role.value)

    @property
    def reads_features(self) -> bool:
        """The op takes its input's last dim as its features (an attribute inferred from
        FEATURES: linear), so on a feature map it acts on the width alone."""
        return any(a.from_input == FEATURES for a in self.attrs)

    def has_bias(self, attrs: Attrs) -> bool:
        """These arguments give the op a learnable bias on its output."""
        return self.bias is not None and bool(attrs.get(self.bias, False))

    def signature(self) -> str:
        """`conv(out_channels, kernel_size, stride=1, ...)`: what a spec writes (inferred
        arguments left out), for messages, `archc ops` and the docs."""
        parts = []
        for attr in self.attrs:
            if attr.inferred:
                continue
            name = f"*{attr.name}" if attr.variadic else attr.name
            parts.append(name if attr.required else f"{name}={render_value(attr.default)}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name


OPS: dict[str, Op] = {}


def _bounded_type(op: str, attr: Attr) -> Attr:
    """The attribute with a type check that first refuses integers beyond int64 (as an OpError
    naming the argument, which elaboration underlines), then checks the type as declared."""
    declared = attr.type.check

    def check(value: Any) -> Any:
        fits_int64(op, attr.name, value)
        return declared(value)

    return replace(attr, type=Type(attr.type.name, check))


def _bounded_shape(op: Op) -> Callable[[Attrs, Sequence[Shape]], Shape]:
    """The op's shape rule, refusing outputs PyTorch cannot allocate."""
    rule = op.shape

    def shape(attrs: Attrs, inputs: Sequence[Shape]) -> Shape:
        output = rule(attrs, inputs)
        check_tensor_size(op.name, "output", output)
        return output

    return shape


def register(op: Op) -> Op:
    """Add `op` to OPS, with the checks every op shares: integer arguments fit int64 and the
    output is a tensor PyTorch can address. The registered op (returned) is the one to use."""
    assert op.name not in OPS, f"op {op.name} registered twice"
    assert (op.module is None) != (op.function is None) or op.chained, op.name
    assert not op.chained or (op.module is not None and op.function is not None), op.name
    assert not op.held or op.call is not None, op.name
    assert op.call is None or op.module is not None, op.name
    assert not op.passthrough or (op.function is not None and op.arity == 1
                                  and op.function({}, ["x"]) == "x"), op.name
    # (a held parameter is no PyTorch class or function: there is nothing to spell)
    assert op.torch or op.held or op.spelled_by, f"{op.name}: name its PyTorch spellings"
    assert isinstance(op.role, Role), f"{op.name}: its role is a Role, not {op.role!r}"
    # the merge syntax (`concat { ... }`) hands a merge all its branches, any other op one
    assert (op.role is Role.MERGE) == (op.arity is None), f"{op.name}: role and arity disagree"
    # backends leave identity undrawn and unwritten (a name for its input) by `passthrough`
    assert op.passthrough == (op.role is Role.IDENTITY), f"{op.name}: role and passthrough"
    # an op written into in place is a fresh tensor made by a module; only merges accumulate
    assert not op.writable_output or (op.module is not None and not op.alias({})), op.name
    assert op.accumulate is None or op.function is not None, op.name
    if op.bias is not None:
        bias = op.attr(op.bias)
        assert bias is not None and bias.type == BOOL, f"{op.name}: bias is no boolean attribute"
    for other in OPS.values():
        shared = set(op.torch) & set(other.torch)
        assert not shared, f"{sorted(shared)} named by both {other.name} and {op.name}"
    op = replace(op, attrs=tuple(_bounded_type(op.name, a) for a in op.attrs),
                 shape=_bounded_shape(op), infer=_agreeing_infer(op))
    OPS[op.name] = op
    return op


def _agreeing_infer(op: Op) -> Callable[[Attrs, Sequence[Shape]], Attrs]:
    """The op's infer rule, after the check every inferred size shares: a value the user gave
    must equal the input dim it is inferred from."""
    inferred = [a for a in op.attrs if a.from_input is not None]
    rule = op.infer
    if not inferred:
        return rule

    def infer(attrs: Attrs, inputs: Sequence[Shape]) -> Attrs:
        for attr in inferred:
            assert attr.from_input is not None
            given, found = attrs.get(attr.name), attr.from_input.of(op.name, inputs)
            if given is not None and found is not None and given != found:
                shape = inputs[0]
                notes = ([f"hint: flatten first? flatten gives [N, {numel(shape)}]"]
                         if attr.from_input.dim == -1 and len(shape) > 2 else [])
                raise OpError(
                    f"{op.name}: {attr.name}={given} disagrees with the input, which has "
                    f"{found} {attr.from_input.what}", attr=attr.name,
                    expected=f"{attr.name}={found} (or leave it out: it is inferred)",
                    found=f"input {format_shape(shape)}", notes=notes)
        return rule(attrs, inputs)

    return infer


# ------------------------------------------------------------------ PyTorch spellings

_PREFIXES = ("torch.nn.functional.", "torch.nn.", "torch.Tensor.", "torch.", "nn.functional.",
             "nn.", "functional.", "F.", "Tensor.")


def by_rank(*patterns: str) -> tuple[str, ...]:
    """PyTorch's 1d, 2d and 3d spellings: by_rank("nn.Conv{}d") → nn.Conv1d, nn.Conv2d, ..."""
    return tuple(pattern.format(rank) for pattern in patterns for rank in (1, 2, 3))


def _plain(name: str) -> str:
    """A PyTorch-style name without its module prefix, case or underscores: `nn.BatchNorm2d`,
    `BatchNorm2d` and `batch_norm2d` are all `batchnorm2d`."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name.replace("_", "").casefold()


def _rankless(plain: str) -> str:
    """Without the 1d/2d/3d suffix: `batchnorm2d` → `batchnorm` (archc picks the rank)."""
    return plain[:-2] if len(plain) > 2 and plain[-1] == "d" and plain[-2] in "123" else plain


def suggest_op(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Ops and blocks to suggest for an unknown op `name`, best first: the ops whose PyTorch
    spelling it is (case, underscores and the `nn.`/`F.`/`torch.` prefix aside: `BatchNorm2d`,
    `batchnorm` and `nn.BatchNorm2d` give `bn`; `ReLU` gives `relu`), then the close matches
    among `candidates` (difflib, as `archc.errors.suggest`), then the ops with a PyTorch
    spelling close to it (`BatchNorm2` → `bn`). Only names among `candidates` are suggested."""
    pool = set(candidates)
    plain = _plain(name)
    exact = [op.name for op in OPS.values() if any(_plain(t) == plain for t in op.torch)]
    if not exact:  # `batchnorm`, `MaxPool`: the rank suffix left out
        exact = [op.name for op in OPS.values()
                 if any(_rankless(_plain(t)) == _rankless(plain) for t in op.torch)]
    spellings = {_plain(t): op.name for op in OPS.values() for t in op.torch}
    near = [spellings[s] for s in suggest(plain, spellings)]
    found: list[str] = []
    for candidate in (*exact, *suggest(name, pool), *near):
        if candidate in pool and candidate not in found and candidate != name:
            found.append(candidate)
    return found[:limit]


# ------------------------------------------------------------------ helpers for rules



def spatial_rank(op: str, shape: Shape, ranks: Sequence[int] = (1, 2, 3)) -> int:
    """The number of spatial dims of [N, C, *spatial], checked against what the op supports."""
    spatial = len(shape) - 2
    if spatial not in ranks:
        layouts = {1: "[N, C, L]", 2: "[N, C, H, W]", 3: "[N, C, D, H, W]"}
        expected = " or ".join(layouts[r] for r in ranks)
        raise OpError(f"{op} expects a {expected} input", expected=expected,
                      found=format_shape(shape))
    return spatial


def expand(op: str, attr: str, value: int | tuple[int, ...], rank: int,
           one_for_all: bool = False) -> tuple[int, ...]:
    """An int or per-dimension tuple as a tuple of `rank` ints. With `one_for_all`, a list of
    one value means that value in every dim, as PyTorch reads it there (pooling arguments and
    a conv's stride, padding and dilation, though not its kernel_size)."""
    if isinstance(value, int):
        return (value,) * rank
    if one_for_all and len(value) == 1:
        return tuple(value) * rank
    if len(value) != rank:
        counts = f"1 or {rank}" if one_for_all and rank != 1 else str(rank)
        raise OpError(f"{op}: {attr} has {len(value)} values for {rank} spatial dimensions",
                      attr=attr, expected=f"an integer or {counts} integers",
                      found=str(list(value)))
    return tuple(value)


def known(op: str, shape: Shape, index: int, what: str, attr: str | None = None) -> int:
    """Dim `index` of `shape` as a number, for a rule that needs one there (a conv's spatial
    size, a linear layer's in_features); a symbol is refused with the op, the dim (`what` it
    is to the op: "its channels") and the symbol's bounds."""
    dim = shape[index]
    if is_static(dim):
        return dim
    position = index % len(shape)
    raise OpError(f"{op} needs a known size for dim {position} of its input, {what}, "
                  f"not the symbol {dim.name}", attr=attr,
                  expected=f"a number in dim {position}", found=f"input {format_shape(shape)}",
                  notes=[f"{dim.name} is any size with {dim.bounds}, fixed only when the "
                         "network runs"])


def known_spatial(op: str, shape: Shape) -> tuple[int, ...]:
    """The spatial sizes of [N, C, *spatial], each a number (`known`)."""
    return tuple(known(op, shape, i, "a spatial size") for i in range(2, len(shape)))


def channels(op: str, shape: Shape) -> int:
    """Dim 1 of [N, C, ...], a number (`known`)."""
    return known(op, shape, 1, "its channels")


def check_tensor_size(op: str, what: str, shape: Shape, attr: str | None = None) -> None:
    """Refuse a tensor that PyTorch cannot create: a size beyond int64, or more bytes than
    int64 counts ("Storage size calculation overflowed"). Symbols (the batch) are left out:
    their sizes are the caller's when the network runs."""
    sizes = static_dims(shape)
    if max(sizes, default=0) > INT64_MAX:
        raise OpError(f"{op}: the {what} is too large: PyTorch sizes are 64-bit integers",
                      attr=attr, expected=f"sizes of at most {INT64_MAX:,}",
                      found="[" + ", ".join(_digits(d) if is_static(d) else d.name
                                            for d in shape) + "]")
    elements = math.prod(sizes)
    if elements * FLOAT32_BYTES > INT64_MAX:
        raise OpError(f"{op}: the {what} is too large for PyTorch to allocate", attr=attr,
                      expected=f"at most {INT64_MAX // FLOAT32_BYTES:,} elements "
                               f"({INT64_MAX:,} bytes of float32)",
                      found=f"{format_shape(shape)}: {_digits(elements)} elements")


def check_positive_output(op: str, output: Shape, input_shape: Shape, why: str) -> Shape:
    if any(d <= 0 for d in static_dims(output)):
        raise OpError(f"{op} output size would be {format_shape(output)}", expected="sizes ≥ 1",
                      found=f"{format_shape(input_shape)} → {format_shape(output)}",
                      notes=[why])
    return output


def standard_construct(
    callee: str,
    attrs: Attrs,
    op: Op,
    positional: Sequence[str],
    omit: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
    always: Sequence[str] = (),
) -> Construct:
    """`callee(*positional, **non-default keyword attrs)`: the constructor as a person writes it.

    An `init` attribute is no constructor argument: it becomes the Construct's `init`."""
    rename = rename or {}
    args = tuple(attrs[name] for name in positional)
    kwargs = []
    for attr in op.attrs:
        if (attr.name in positional or attr.name in omit or attr.inferred
                or attr.name == "init"):
            continue
        value = attrs.get(attr.name, attr.default)
        if attr.required or value != attr.default or attr.name in always:
            kwargs.append((rename.get(attr.name, attr.name), value))
    scheme = attrs.get("init", DEFAULT_INIT)
    return Construct(callee, args, tuple(kwargs), arg_names=tuple(positional),
                     init=None if scheme == DEFAULT_INIT else scheme,
                     renamed=tuple(sorted(rename.items())))
