"""The primary backend: IR network → readable, standalone PyTorch source.

Input: an `ir.Network`. Output: the text of a Python module that imports only torch and
defines one class per block definition (and per container that is not a plain chain), with
constructor arguments named after the block's parameters, children named after the spec's
entries, and a straight-line forward. `build()` executes exactly this text, so what a user
reads with `archc compile -o model.py` is what runs. The output is deterministic.
"""

from __future__ import annotations
import __future__

import ast as pyast
import builtins
import functools
import hashlib
import inspect
import keyword
import re
import textwrap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import CodeType
from typing import Any, NamedTuple

from archc.backends.layout import fit
from archc.errors import ArchcError
from archc.expr.nodes import Expr, names_in
from archc.expr.printer import ATOM, SUM, TERNARY, Python, python, python_literal
from archc.gcpause import without_collector
from archc.ir import BlockInfo, Boundary, Choice, Loop, Module, Network, Node, Path, same
from archc.names import MODULE_ATTRIBUTES
from archc.ops import OPS
from archc.ops.init import initializer_lines
from archc.ops.registry import is_static

# ------------------------------------------------------------------ values as code


def docstring(text: str, indent: str) -> list[str]:
    """The lines of a docstring that reads as `text` (what `inspect.getdoc` shows equals
    `inspect.cleandoc(text)`): triple-quoted, continuation lines indented, where that is
    exact; otherwise `repr(text)`, so that a doc holding \"\"\", backslashes or control
    characters stays data."""
    lines = text.split("\n")
    if ('"""' not in text and not text.endswith(('"', "\\"))
            and all(c.isprintable() for line in lines for c in line)):
        prefix = "r" if "\\" in text else ""  # a raw string keeps backslashes as written
        lines = _wrapped(lines, WIDTH - len(indent), len(prefix) + 3)
        quoted = [f'{indent}{prefix}"""{lines[0]}', *(indent + line if line.strip() else ""
                                                       for line in lines[1:])]
        quoted[-1] = (quoted[-1] or indent) + '"""'
        value = _literal_text("\n".join(quoted).strip())
        # the same words in the same order: only line breaks between words were added
        if isinstance(value, str) and inspect.cleandoc(value).split() == \
                inspect.cleandoc(text).split():
            return quoted
    return [indent + repr(text)]


WIDTH = 100  # the generated file's line length (ruff's E501 at 100 columns)


def _wrapped(lines: list[str], width: int, opening: int) -> list[str]:
    """Lines longer than `width` broken between words, each keeping its indentation; the
    first line also holds the opening quotes. A word longer than a line stays whole."""
    out: list[str] = []
    for number, line in enumerate(lines):
        room = width - (opening if number == 0 else 0) - 3  # room for the closing quotes
        if len(line) <= room:
            out.append(line)
            continue
        lead = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, room, initial_indent="", subsequent_indent=lead,
                             break_long_words=False, break_on_hyphens=False) or [line]
    return out


def _literal_text(code: str) -> Any:
    try:
        return pyast.literal_eval(code)
    except (ValueError, SyntaxError):
        return None


# names of architectures and layers as PyTorch and their papers spell them in class names
# (torchvision's ResNet, GoogLeNet, VGG): `resnet50` is written ResNet50, not Resnet50
SPELLINGS = {
    "alexnet": "AlexNet", "bert": "Bert", "bn": "BN", "cnn": "CNN", "convnext": "ConvNeXt",
    "d2l": "D2L", "densenet": "DenseNet", "efficientnet": "EfficientNet", "fcn": "FCN",
    "gelu": "GELU", "googlenet": "GoogLeNet", "gru": "GRU", "lenet": "LeNet", "llama": "Llama",
    "lstm": "LSTM",
    "mlp": "MLP", "mnasnet": "MNASNet", "mobilenet": "MobileNet", "nin": "NiN",
    "regnet": "RegNet", "resnet": "ResNet", "resnext": "ResNeXt", "rnn": "RNN", "se": "SE",
    "shufflenet": "ShuffleNet", "squeezenet": "SqueezeNet", "unet": "UNet", "vgg": "VGG",
    "vit": "ViT", "wide": "Wide",
}


def camel(name: str) -> str:
    """A class name for a spec or block name: `bottleneck` Bottleneck, `resnet50` ResNet50,
    `conv_block` ConvBlock; a name with capitals is kept as written."""
    words = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        stem = re.match(r"[a-z]*", part)
        head = stem.group() if stem else ""
        if part in SPELLINGS:
            words.append(SPELLINGS[part])
        elif head in SPELLINGS:
            words.append(SPELLINGS[head] + part[len(head):])
        elif part:
            words.append(part[:1].upper() + part[1:])
    text = "".join(words)
    if not text or text[0].isdigit():
        text = "Block" + text
    return text


def annotation(values: Sequence[Any]) -> str | None:
    """The type hint of a constructor parameter from the values its instances pass."""
    for hint, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if all(type(v) is kind for v in values):
            return hint
    if all(type(v) in (int, float) for v in values):
        return "float"
    if all(isinstance(v, list) for v in values):
        items = [i for v in values for i in v]
        inner = annotation(items) if items else None
        return f"list[{inner}]" if inner else "list"
    return None


def identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


# ------------------------------------------------------------------ templates with holes


@dataclass(frozen=True)
class Hole:
    """A value in a class body that may differ between instances of the class."""

    index: int


@dataclass(frozen=True)
class Part:
    """Where a loop or a condition of the class body goes (`Template.control[index]`)."""

    index: int


class Unshared(Exception):
    """The instances of a block have no one class body in common that loops and conditions
    as the spec does: they get a class per structure instead."""


class Row(NamedTuple):  # a tuple: templates hold thousands, made and copied often
    """One value a hole takes: in one instance, or in one iteration of a loop of it. `local`
    holds the loop variable's and the running channel count's values there; `owner` is the
    instance's position in its class's group once instances are merged."""

    value: Any
    meta: HoleMeta
    local: tuple[tuple[str, Any], ...] = ()
    owner: int = 0


@dataclass
class Template:
    """Code with holes: `parts` alternate text, Hole markers and Part markers (a loop or a
    condition, in `control`); `rows[i]` are the values hole i takes."""

    parts: list[str | Hole | Part] = field(default_factory=list)
    rows: list[list[Row]] = field(default_factory=list)
    control: list[LoopPart | ChoicePart | BranchPart | SwitchPart] = field(default_factory=list)
    # its key once asked, kept by the copies that share its code (owned, localised)
    known_key: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)

    def text(self, code: str) -> None:
        if self.parts and type(self.parts[-1]) is str:  # one string between two holes
            self.parts[-1] += code
        else:
            self.parts.append(code)

    def hole(self, value: Any, meta: HoleMeta) -> None:
        self.parts.append(Hole(len(self.rows)))
        self.rows.append([Row(value, meta)])

    def part(self, part: LoopPart | ChoicePart | BranchPart | SwitchPart) -> None:
        self.parts.append(Part(len(self.control)))
        self.control.append(part)

    def key(self) -> tuple[Any, ...]:
        """What instances must share to share a class: the code, its holes left open."""
        if self.known_key is None:
            self.known_key = (tuple(p if type(p) is str else "\0" for p in self.parts),
                              tuple(c.key() for c in self.control))
        return self.known_key

    def localised(self, local: tuple[tuple[str, Any], ...]) -> Template:
        """The same code, each row holding `local` (an iteration's values)."""
        return Template(self.parts, [[Row(r.value, r.meta, local + r.local, r.owner)
                                      for r in rows] for rows in self.rows],
                        [c.localised(local) for c in self.control], self.known_key)

    def owned(self, owner: int) -> Template:
        return Template(self.parts, [[Row(r.value, r.meta, r.local, owner) for r in rows]
                                     for rows in self.rows], [c.owned(owner) for c in self.control],
                        self.known_key)


def _loop_name_uses(template: Template) -> set[str]:
    """The names the f-strings of a template's loops read (their children's names)."""
    found: set[str] = set()
    todo = [template]
    while todo:
        part = todo.pop()
        for control in part.control:
            if isinstance(control, LoopPart):
                found |= control.uses
            todo += [t for t in ((control.test, control.body) if isinstance(control, ChoicePart)
                                 else control.templates()) if t is not None]
    return found


def merged(templates: list[Template]) -> Template:
    """Templates of one key as one, each hole holding the rows of all; their conditions'
    bodies, present in some only, must agree where present."""
    first = templates[0]
    key = first.key()
    if any(t.key() != key for t in templates[1:]):
        raise Unshared
    return Template(first.parts, [[r for t in templates for r in t.rows[i]]
                                  for i in range(len(first.rows))],
                    [first.control[i].merge([t.control[i] for t in templates])
                     for i in range(len(first.control))])


@dataclass
class LoopPart:
    """A repeat written as a loop: `for var in range(count)`, its body (rows from every
    iteration), and the channel count the iterations carry (`channels`: before the loop, and
    after each iteration)."""

    count: Template
    start: Template
    body: Template
    update: Template
    var: str | None
    names: str | None  # the f-string of the iteration's child's name, if it is named
    indent: str
    uses: frozenset[str] = frozenset()  # the names that f-string reads (parameters too)

    def key(self) -> tuple[Any, ...]:
        return ("loop", self.count.key(), self.start.key(), self.body.key(),
                self.update.key(), self.var, self.names, self.indent)

    def templates(self) -> tuple[Template, Template, Template, Template]:
        return self.count, self.start, self.body, self.update

    def localised(self, local: tuple[tuple[str, Any], ...]) -> LoopPart:
        count, start, body, update = (t.localised(local) for t in self.templates())
        return LoopPart(count, start, body, update, self.var, self.names, self.indent,
                        self.uses)

    def owned(self, owner: int) -> LoopPart:
        count, start, body, update = (t.owned(owner) for t in self.templates())
        return LoopPart(count, start, body, update, self.var, self.names, self.indent,
                        self.uses)

    def merge(self, parts: list[LoopPart | ChoicePart | BranchPart | SwitchPart]) -> LoopPart:
        loops = [p for p in parts if isinstance(p, LoopPart)]
        count, start, body, update = (merged([p.templates()[i] for p in loops])
                                      for i in range(4))
        return LoopPart(count, start, body, update, self.var, self.names, self.indent,
                        self.uses)


@dataclass
class ChoicePart:
    """An `if` of the spec as a Python `if` in `__init__`: its test (rows from every instance)
    and the children it sets (rows from the instances that took that branch); otherwise they
    are None, and forward skips them."""

    test: Template
    body: Template | None
    children: tuple[str, ...]
    negate: bool  # the children come with the test false
    indent: str
    takers: int = 0  # how many instances took the branch that sets them

    def key(self) -> tuple[Any, ...]:  # not the children: only the instances taking it know them
        return ("if", self.test.key(), self.negate, self.indent)

    def localised(self, local: tuple[tuple[str, Any], ...]) -> ChoicePart:
        return ChoicePart(self.test.localised(local),
                          self.body.localised(local) if self.body else None,
                          self.children, self.negate, self.indent, self.takers)

    def owned(self, owner: int) -> ChoicePart:
        return ChoicePart(self.test.owned(owner), self.body.owned(owner) if self.body else None,
                          self.children, self.negate, self.indent, self.takers)

    def merge(self, parts: list[LoopPart | ChoicePart | BranchPart | SwitchPart]) -> ChoicePart:
        choices = [p for p in parts if isinstance(p, ChoicePart)]
        taking = [p for p in choices if p.body is not None]
        if any(p.children != taking[0].children for p in taking):
            raise Unshared
        return ChoicePart(merged([p.test for p in choices]),
                          merged([p.body for p in taking if p.body]) if taking else None,
                          taking[0].children if taking else (), self.negate, self.indent,
                          sum(p.takers for p in choices))

    def conditional(self, codes: dict[tuple[int, int], str]) -> bool:
        """Whether the children are set under an `if`: some instance sets them and the test
        is code (a test every instance passes stays, so the class says when it holds);
        where every instance takes that branch and the test has no code, no `if` is
        needed."""
        if self.body is None:
            return False
        return self.takers < len(self.test.rows[0]) or \
            codes[(id(self.test), 0)] not in ("True", "False")


@dataclass
class BranchPart:
    """An `if` in a chain: `if test:` appends the children of one branch, `else:` those of
    the other; a side is known from the instances that took it (or passes nothing on)."""

    test: Template
    bodies: tuple[Template | None, Template | None]  # then, else
    indent: str

    def key(self) -> tuple[Any, ...]:
        return ("branch", self.test.key(), self.indent)

    def templates(self) -> tuple[Template, ...]:
        return (self.test, *(b for b in self.bodies if b is not None))

    def localised(self, local: tuple[tuple[str, Any], ...]) -> BranchPart:
        then, other = (b.localised(local) if b else None for b in self.bodies)
        return BranchPart(self.test.localised(local), (then, other), self.indent)

    def owned(self, owner: int) -> BranchPart:
        then, other = (b.owned(owner) if b else None for b in self.bodies)
        return BranchPart(self.test.owned(owner), (then, other), self.indent)

    def merge(self, parts: list[LoopPart | ChoicePart | BranchPart | SwitchPart]) -> BranchPart:
        branches = [p for p in parts if isinstance(p, BranchPart)]
        sides = []
        for side in (0, 1):
            known = [b.bodies[side] for b in branches if b.bodies[side] is not None]
            sides.append(merged(known) if known else None)  # type: ignore[arg-type]
        return BranchPart(merged([b.test for b in branches]), (sides[0], sides[1]),
                          self.indent)


@dataclass
class SwitchPart:
    """An `if` whose branches both compute (a residual add or not): `self.condition = test`
    in `__init__`, the children of each branch (known from the instances that took it), and
    forward takes one branch's statements or the other's."""

    test: Template
    name: str
    bodies: tuple[Template | None, Template | None] = (None, None)  # then, else
    indent: str = ""

    def key(self) -> tuple[Any, ...]:  # not the bodies: each instance knows its branch only
        return ("switch", self.test.key(), self.name, self.indent)

    def templates(self) -> tuple[Template, ...]:
        return (self.test, *(b for b in self.bodies if b is not None))

    def localised(self, local: tuple[tuple[str, Any], ...]) -> SwitchPart:
        then, other = (b.localised(local) if b else None for b in self.bodies)
        return SwitchPart(self.test.localised(local), self.name, (then, other), self.indent)

    def owned(self, owner: int) -> SwitchPart:
        then, other = (b.owned(owner) if b else None for b in self.bodies)
        return SwitchPart(self.test.owned(owner), self.name, (then, other), self.indent)

    def merge(self, parts: list[Any]) -> SwitchPart:
        switches = [p for p in parts if isinstance(p, SwitchPart)]
        sides: list[Template | None] = []
        for side in (0, 1):
            known = [body for b in switches if (body := b.bodies[side]) is not None]
            sides.append(merged(known) if known else None)
        return SwitchPart(merged([p.test for p in switches]), self.name, (sides[0], sides[1]),
                          self.indent)


class HoleMeta(NamedTuple):  # a tuple: one per hole of every instance
    """Where a hole came from: the attribute it fills, whether shape inference set it, and the
    spec expression it was written as when that only uses the class's parameters."""

    owner: str  # child attribute path, for fallback parameter names
    attr: str
    inferred: bool
    expr: str | None = None
    uses: frozenset[str] = frozenset()
    source: Expr | None = None  # the spec expression `expr` prints, if it prints one
    node: int | None = None  # the node whose attribute it is; if inferred, the value read

    @classmethod
    def of(cls, owner: str, attr: str, inferred: bool, code: Python | None,
           source: Expr | None = None, node: int | None = None) -> HoleMeta:
        """The hole's metadata with the expression it was written as, if it has one."""
        if code is None:
            return cls(owner, attr, inferred, node=node)
        return cls(owner, attr, inferred, code.text, code.uses, source, node)


def parameter_code(expr: Expr, params: Collection[str], channels: Python | None = None,
                   constants: Mapping[str, Any] | None = None) -> Python | None:
    """The spec expression as Python over a class's `params` (and `in.c` as `channels`, the
    incoming channel count as code), or None if it needs anything else (loop variables, other
    shape attributes). Spec-level parameters (`constants`) are fixed for the whole network, so
    they are written as their values: `planes * expansion` becomes `planes * 4`."""
    fixed = constants or {}
    lists: list[str] = []

    def resolve(name: str) -> Python | None:
        if name == "in.c":
            return channels
        if name in params:
            return Python(name, frozenset({name}))
        value = fixed.get(name)
        if isinstance(value, list) and _inlined(value):
            lists.append(python_literal(value))
            return Python.value(value)
        return Python.value(value) if isinstance(value, (int, float, str)) else None

    code = python(expr, resolve)
    # a list parameter is written only as what is taken of it (`sum(depths)` is `16`,
    # `setting[0][3]` is `32`), never as the list itself
    if code is not None and any(text in code.text for text in lists):
        return None
    return code


def _inlined(value: Any, budget: int = 32) -> bool:
    """Whether a spec parameter's value is written into code as its literal: a number, a
    string, or a short list of them (`sum(depths)` in a block reads the spec's list)."""
    if isinstance(value, (int, float, str)):
        return True
    if isinstance(value, list) and len(value) <= budget:
        return all(_inlined(v, budget // 4) for v in value) if budget >= 4 else False
    return False


RUNNING = "\0channels"  # in a code's uses: it reads the channel count a loop carries
RESERVED = {"self", "nn", "torch", "OrderedDict", "with_weights", "initialized", "in_channels"}


BUILTINS = frozenset(dir(builtins))


# the functions and classes a generated file may define for its ops (`window_partition`)
HELPER_NAMES = frozenset(helper.name for op in OPS.values() if op.helper is not None
                         for helper in (*op.helper.needs, op.helper))


def _unshadowed(name: str) -> str:
    """A local variable's name that leaves Python's builtins and the file's helpers visible
    (PEP 8's trailing _)."""
    return f"{name}_" if name in BUILTINS or name in HELPER_NAMES else name


def sum_code(codes: Sequence[Python]) -> Python:
    """`a + b + ...`, each term parenthesised where `+` would regroup it."""
    terms = [c.text if c.strength >= (SUM if i == 0 else SUM + 1) else f"({c.text})"
             for i, c in enumerate(codes)]
    return Python(" + ".join(terms), frozenset().union(*(c.uses for c in codes)), SUM)


@functools.lru_cache(maxsize=4096)
def _substitute(code: str, names: tuple[tuple[str, Python | None], ...]) -> Python | None:
    return substitute(code, dict(names))


def substitute(code: str, names: Mapping[str, Python | None]) -> Python | None:
    """Python `code` over some names with each name replaced by its code (None if one has
    none): a child's output channels, `planes * 4`, as the caller computes them. Python's own
    parser and printer keep the meaning (parentheses where the new terms need them)."""
    tree = pyast.parse(code, mode="eval")
    uses: set[str] = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.Name):
            known = names.get(node.id)
            if known is None:
                return None
            uses |= known.uses

    class Replace(pyast.NodeTransformer):
        def visit_Name(self, node: pyast.Name) -> pyast.AST:
            replacement = names[node.id]
            assert replacement is not None
            return pyast.parse(replacement.text, mode="eval").body

    text = pyast.unparse(Replace().visit(tree))
    body = pyast.parse(text, mode="eval").body
    strength = ATOM if isinstance(body, (pyast.Name, pyast.Constant)) else TERNARY
    return Python(text, frozenset(uses), strength)


@dataclass
class Schedule:
    """The statements of a forward before they are named: each unit's statement number, the
    aliases (a value that is another name for an earlier one), and the statement numbers at
    which each value is first and last read (the return counts as the last)."""

    step: list[int]
    canonical: dict[int, int]
    first_use: dict[int, int] = field(default_factory=dict)
    last_use: dict[int, int] = field(default_factory=dict)

    def last(self, value: int) -> int:
        """The last statement that reads `value` (through its aliases), or -1."""
        return self.last_use.get(self.canonical.get(value, value), -1)


# the condition of what forward computes and returns only while training; TorchScript reads
# `not torch.jit.is_scripting()` as a constant and compiles only the other path
TRAINING = "self.training and not torch.jit.is_scripting()"


@dataclass
class ForwardNames:
    """The variables of a forward being written: each value's name (an alias's: its
    expression), the value each variable holds now, and the names already taken."""

    names: dict[int, str]  # at first the forward's arguments
    holder: dict[str, int] = field(init=False)
    taken: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.holder = {name: node for node, name in self.names.items()}
        self.taken = {"self", "torch", "nn", *self.names.values()}


@dataclass
class ClassInstance:
    """One module rendered as an instance of a generated class."""

    module: Module
    family: str  # the block (or container) name: instances of one family may share a class
    chain: bool  # a plain chain: the class subclasses nn.Sequential
    in_channels: int | None
    listed: bool = False  # one loop over its children: the class subclasses nn.ModuleList
    # children applied to its input, their outputs joined: an nn.ModuleList with a forward
    parallel: bool = False
    side: bool | None = None  # which branch of its class's switch (an if) it took
    init: Template | None = None
    # its forward's body, or how to write it: only the instances whose forward their class
    # shows need one, and the instances of a class share it
    written: list[str] | Callable[[], list[str]] = field(default_factory=list)
    flow: tuple[Any, ...] = ()  # what forward computes from what, without its optional children
    output: Python | None = None  # its output's channel count as code over its parameters
    class_name: str = ""
    call: list[tuple[str, Any]] = field(default_factory=list)  # constructor (param, value)
    defaults: dict[str, Any] = field(default_factory=dict)  # the class's parameter defaults
    out_code: str | None = None  # the class's output channel count over its parameters
    names: tuple[str, str] = ("layers", "channels")  # its locals: the children, the count

    @property
    def forward(self) -> list[str]:
        if callable(self.written):
            self.written = self.written()
        return self.written


class Generator:
    def __init__(self, network: Network) -> None:
        self.network = network
        self.blocks = network.blocks
        self.instances: dict[Path, ClassInstance] = {}
        self.members = network.members
        self.uses_weights = False
        self.uses_init = False
        self.uses_ordered_dict = False
        # names the file defines or imports besides the classes of blocks: every op helper's
        # too, used or not, so that a block's class is named the same whatever the spec uses
        self.class_names: set[str] = {"OrderedDict", "with_weights", "initialized", "torch", "nn",
                                      *(op.helper.name for op in OPS.values() if op.helper)}
        self.helpers: set[str] = set()  # the ops whose helper class the file defines
        self.params: frozenset[str] = frozenset()  # parameters of the class being written
        self.channels: dict[int, Python] = {}  # value -> its channel count as code
        self.accessor: str | None = None  # the name forward calls the child by, in a loop
        self.root_params: set[str] = set()  # the spec parameters the network's class takes
        self.names = ("layers", "channels")  # the class's list of children and carried count
        # expressions as code, by (expression, incoming channels, names in scope): the IR
        # holds the expressions for the generator's whole run, so their ids stay theirs
        self.printed: dict[tuple[int, Python | None, frozenset[str]], Python | None] = {}
        self.resolved: tuple[Template, dict[tuple[int, int], str]] | None = None
        self.gives: dict[Path, frozenset[int]] = {}  # a class instance → the values it gives
        self.holders: dict[int, tuple[Path, ...]] = {}  # a node → the instances holding it
        # a block's parameters its forward reads (`x[:, :self.half_]`), by the module's path:
        # parameter → the attribute __init__ keeps it in
        self.kept: dict[Path, dict[str, str]] = {}
        self.forward_module: Module | None = None  # the module whose forward is being written
        self.constants: list[str] = []  # the class's attributes TorchScript takes as constants

    def code(self, expr: Expr, channels: Python | None = None) -> Python | None:
        """A spec expression as Python over the parameters of the class being written. Each
        instance of a block prints the same expressions: they are printed once."""
        key = (id(expr), channels, self.params)
        if key not in self.printed:
            self.printed[key] = parameter_code(expr, self.params, channels, self.network.params)
        return self.printed[key]

    def units(self, module: Module) -> list[tuple[str, list[int]]]:
        return self.network.units(module.path)

    def is_chain(self, module: Module) -> bool:
        return self.network.is_chain(module.path)

    # -- which modules become classes
    def collect(self, path: Path) -> None:
        module = self.network.modules[path]
        for child in module.children:
            self.collect((*path, child))
        if module.kind in ("block", "root") or (module.kind == "container"
                                                 and not self.is_chain(module)):
            reads = self.network.boundary(self.members.get(path, [])).reads
            in_channels = None
            if len(reads) == 1:
                shape = self.network.node(reads[0]).shape
                in_channels = shape[1] if len(shape) > 1 and is_static(shape[1]) else None
            family = module.block or (module.name if module.kind == "container"
                                      else self.network.name)
            sequential = module.kind in ("block", "root") and self.network.sequential(
                module.path)
            chain = sequential or self.network.run(module.path) is not None
            instance = ClassInstance(module, family, chain, in_channels)
            instance.parallel = self.network.parallel(module.path)
            self.instances[path] = instance

    # -- constructor expressions
    def child_expression(self, path: Path, template: Template, owner: str) -> None:
        module = self.network.modules[path]
        if path in self.instances:
            instance = self.instances[path]
            assert instance.class_name, f"{path} used before its class was made"
            template.text(instance.class_name + "(")
            reads = self.network.module_boundary(path).reads
            defaults = instance.defaults
            written = 0
            for param, value in instance.call:
                # an argument the spec wrote stays, whatever its value here, so that every
                # instance (and iteration) has the same code (`stride=stride if j == 0 else 1`)
                if param in defaults and same(defaults[param], value) \
                        and param not in module.sources:
                    continue
                template.text(", " if written else "")
                written += 1
                if param in defaults:  # as torch's own: Conv2d(64, 64, 3, stride=2)
                    template.text(f"{param}=")
                source = None if param == "in_channels" else module.sources.get(param)
                if param == "in_channels":
                    known = self.channels.get(reads[0]) if len(reads) == 1 else None
                else:
                    known = None if source is None else self.code(source)
                template.hole(value, HoleMeta.of(owner, param, param == "in_channels", known,
                                                 source, reads[0] if reads else None))
            template.text(")")
        elif module.kind == "op":
            assert module.node is not None
            self.op_expression(self.network.node(module.node), template, owner)
        else:
            self.sequential_expression(module, template, owner)

    def op_expression(self, node: Node, template: Template, owner: str) -> None:
        op = OPS[node.op]
        assert op.module is not None
        construct = op.construct(node.attrs, [self.network.node(i).shape for i in node.inputs])
        kwargs = construct.kwargs
        if node.sources:
            # an argument written in the spec stays in the code even at its default value, so
            # that instances of one block share one class (stride=stride, whatever its value)
            present = {name for name, _ in kwargs} | {name for name, _ in construct.tensors} \
                | set(construct.arg_names)
            table = op.attr_table
            renamed = dict(construct.renamed)
            kwargs += tuple((renamed.get(name, name), node.attrs[name]) for name in node.sources
                            if renamed.get(name, name) not in present
                            and not (name in table and table[name].keyword_only))
        if len(kwargs) > 1:  # in the op's order of attributes (renamed ones last)
            order = op.attr_order
            kwargs = tuple(sorted(kwargs, key=lambda kv: order.get(kv[0], len(order))))
        if op.helper is not None:
            self.helpers.add(op.name)
        init = construct.init
        if init is not None:
            self.uses_init = True
            template.text("initialized(")
        if construct.tensors:
            self.uses_weights = True
            template.text("with_weights(")
        template.text(construct.callee + "(")
        inferred = op.inferred_names
        args = construct.args
        names = construct.arg_names or tuple(f"arg{i}" for i in range(len(args)))
        for i, (name, value) in enumerate(zip(names, args, strict=True)):
            if i:
                template.text(", ")
            template.hole(value, self.hole_meta(node, owner, name, name in inferred, value))
        for i, (name, value) in enumerate(kwargs):
            template.text((", " if i or args else "") + f"{name}=")
            template.hole(value, self.hole_meta(node, owner, name, False, value))
        template.text(")")
        for name, value in construct.tensors:
            template.text(f", {name}=")
            template.hole(value, HoleMeta(owner, name, False))
            template.text(")")
        if init is not None:
            template.text(", ")
            template.hole(init, self.hole_meta(node, owner, "init", False, init))
            template.text(")")

    def hole_meta(self, node: Node, owner: str, attr: str, inferred: bool,
                  value: Any) -> HoleMeta:
        known: Python | None = None
        if inferred and attr not in node.sources:  # one the spec wrote reads as written
            shape = self.network.node(node.inputs[0]).shape
            if len(shape) > 1 and same(shape[1], value):
                known = self.channels.get(node.inputs[0])
            return HoleMeta.of(owner, attr, inferred, known, None, node.inputs[0])
        source = node.sources.get(attr)
        if source is not None:
            known = self.code(source, self.channels.get(node.inputs[0]))
        return HoleMeta.of(owner, attr, False, known, source, node.id)

    def track_channels(self, instance: ClassInstance,
                       loops: Sequence[Loop]) -> list[tuple[Python | None, list[Python | None]]]:
        """Follow the channel count through a block's nodes as code over its parameters, so
        inferred sizes read `out` or `c2[0]` instead of a number. Inside a loop written as a
        loop the count is the running `channels`; for each loop this gives the code of the
        count before it and after each of its iterations."""
        module = instance.module
        info = self.blocks.get(module.block or "")
        self.params = frozenset(info.params if info else (
            self.root_params if module.kind == "root" else ()))
        self.params |= {loop.var for loop in loops if loop.var}  # names in the loop's code
        self.channels = {}
        reads = self.network.boundary(self.members.get(module.path, [])).reads
        if module.kind == "block" and len(reads) == 1:
            self.channels[reads[0]] = Python("in_channels", frozenset({"in_channels"}))
        carried: list[tuple[Python | None, list[Python | None]]] = []
        starts = {start: (index, k) for index, loop in enumerate(loops)
                  for k, start in enumerate(loop.starts)}
        for _ in loops:
            carried.append((None, []))
        depth = len(module.path)
        # the nodes of nested classes are theirs: only the values they give out are tracked
        members = sorted({*self.visible(module.path), *starts})
        closed = 0
        for node_id in [*members, None]:
            while closed < len(loops) and (node_id is None or loops[closed].end <= node_id):
                self.close_loop(loops[closed], carried[closed][1])
                closed += 1
            if node_id is None:
                break
            if node_id in starts:
                index, k = starts[node_id]
                value = self.iteration_input(loops[index], k)
                if k == 0:
                    carried[index] = (self.channels.get(value), [])
                else:
                    carried[index][1].append(self.channels.get(value))
                self.channels[value] = self.running()
            self.track_node(node_id, depth)
        return carried

    def visible(self, path: Path) -> list[int]:
        """The nodes of a module that the code of its class sees: its own, and what each
        class instance inside it gives out (not the nodes inside that instance)."""
        found: list[int] = []
        for key, nodes in self.units(self.network.modules[path]):
            child = (*path, key)
            if key.startswith("\0") or self.network.modules[child].kind == "op":
                found += nodes
            elif child in self.instances:
                found += self.network.module_boundary(child).gives
            else:
                found += self.visible(child)
        return found

    def running(self) -> Python:
        """The channel count a loop carries, as the class's variable for it."""
        return Python(self.names[1], frozenset({RUNNING}))

    def iteration_input(self, loop: Loop, k: int) -> int:
        """The one value iteration k of a loop reads (else the loop cannot be written)."""
        nodes = self.iteration_nodes(loop, k)
        reads = self.network.boundary(nodes).reads if nodes else ()
        if len(reads) != 1:
            raise Unshared
        return reads[0]

    def iteration_nodes(self, loop: Loop, k: int) -> list[int]:
        end = loop.starts[k + 1] if k + 1 < len(loop.starts) else loop.end
        return list(range(loop.starts[k], end))

    def close_loop(self, loop: Loop, updates: list[Python | None]) -> None:
        """After a loop: the count after its last iteration, which later code reads as
        itself when it needs no running count (`planes * 4`), else as `channels`."""
        if not loop.starts:
            return
        gives = self.network.boundary(self.iteration_nodes(loop, len(loop.starts) - 1)).gives
        if len(gives) != 1:
            raise Unshared
        last = self.channels.get(gives[0])
        updates.append(last)
        self.channels[gives[0]] = last if last is not None and RUNNING not in last.uses \
            else self.running()

    def track_node(self, node_id: int, depth: int) -> None:
        node = self.network.node(node_id)
        # the outermost class instance below this module that holds the node, if any
        inside = next((path for path in self.enclosing(node) if len(path) > depth), None)
        channels = node.shape[1] if len(node.shape) > 1 else None
        if inside is not None:
            # only what the child gives is read out here: its other values are its own
            gives = self.gives.get(inside)
            if gives is None:
                gives = self.gives[inside] = frozenset(self.network.module_boundary(inside).gives)
            if node_id not in gives:
                return
            known = self.instance_channels(self.instances[inside], node_id, channels)
            if known is not None and known.uses:  # code with no names is better as its number
                self.channels[node_id] = known
            return
        if len(node.inputs) > 1:  # a merge: the channels of every branch, or their sum
            codes = [self.channels.get(i) for i in node.inputs]
            sizes = [self.network.node(i).shape[1] for i in node.inputs]
            if all(codes) and all(same(size, channels) for size in sizes):
                self.channels[node_id] = codes[0]  # type: ignore[assignment]
            elif all(codes) and all(isinstance(x, int) for x in sizes) \
                    and sum(x for x in sizes if isinstance(x, int)) == channels \
                    and any(c.uses for c in codes if c):
                self.channels[node_id] = sum_code(codes)  # type: ignore[arg-type]
            return
        incoming = self.channels.get(node.inputs[0]) if node.inputs else None
        for attr, expr in node.sources.items():
            if same(node.attrs.get(attr), channels):
                known = self.code(expr, incoming)
                if known:
                    self.channels[node_id] = known
                    return
        source = self.network.node(node.inputs[0]).shape if len(node.inputs) == 1 else None
        if source is not None and len(source) > 1 and source[1] == channels and incoming:
            self.channels[node_id] = incoming

    def enclosing(self, node: Node) -> tuple[Path, ...]:
        """The class instances that hold a node, outermost first (each class's code tracks
        the nodes of the classes inside it: this is asked once per node and class)."""
        known = self.holders.get(node.id)
        if known is None:
            owner = node.module if node.module is not None else node.scope
            known = self.holders[node.id] = tuple(
                owner[:end] for end in range(1, len(owner) + 1) if owner[:end] in self.instances)
        return known

    def instance_channels(self, instance: ClassInstance, node_id: int,
                          channels: Any) -> Python | None:
        """The channel count of a node inside a child instance, as code of this class: the
        child's output count over the child's constructor arguments (as its class computes
        it), or an argument of the child that holds it."""
        module = instance.module
        if instance.out_code is not None and \
                self.network.module_boundary(module.path).output == node_id:
            reads = self.network.module_boundary(module.path).reads
            names: dict[str, Python | None] = {}
            for param, value in instance.call:
                if param == "in_channels":
                    names[param] = self.channels.get(reads[0]) if len(reads) == 1 else None
                elif param in module.sources:
                    names[param] = self.code(module.sources[param])
                elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
                    names[param] = Python.value(value)
            known = _substitute(instance.out_code, tuple(sorted(names.items())))
            if known is not None:
                return known
        for name, expr in module.sources.items():
            if same(module.args.get(name), channels):
                known = self.code(expr)
                if known:
                    return known
        return None

    def sequential_expression(self, module: Module, template: Template, owner: str) -> None:
        named = any(child != str(i) for i, child in enumerate(module.children))
        self.uses_ordered_dict |= named
        template.text("nn.Sequential(" + ("OrderedDict([" if named else ""))
        for i, child in enumerate(module.children):
            template.text(", " if i else "")
            template.text(f"({python_literal(child)}, " if named else "")
            self.child_expression((*module.path, child), template, f"{owner}_{child}")
            template.text(")" if named else "")
        template.text(("])" if named else "") + ")")

    def build_template(self, instance: ClassInstance, control: bool) -> None:
        """The instance's __init__ body as a template. With `control`, repeats of a chain are
        loops and an `if` whose other branch passes its input through sets optional
        children; without, both are unrolled as this instance elaborated them."""
        module = instance.module
        own = module.control if control and module.kind == "block" else []
        loops = [c for c in own if isinstance(c, Loop) and not c.depth] if instance.chain else []
        choices = [] if instance.chain else [
            c for c in own if isinstance(c, Choice) and sum(c.passes) == 1 and not c.depth]
        # in a chain, an if appends one branch's children or the other's: the outermost ifs
        branches = [c for c in own if isinstance(c, Choice) and not c.depth] \
            if instance.chain else []
        listed = self.network.listed(module.path) if own else None
        instance.listed = listed is not None
        instance.side = None
        info = self.blocks.get(module.block or "")
        taken = RESERVED | set(info.params if info else ()) | {
            c.var for c in own if isinstance(c, Loop) and c.var}
        if any(isinstance(c, Loop) and c.var in (info.params if info else ()) for c in own):
            loops = []  # a loop variable that hides a parameter: unrolled
        instance.names = self.names = (self._fresh("layers", taken), self._fresh("channels", taken))
        carried = self.track_channels(instance, loops if listed is None else [listed])
        output = self.network.module_boundary(module.path).output
        instance.output = self.channels.get(output) if output is not None else None
        init = Template()
        indent = "\n        "
        if listed is not None:
            init.text("super().__init__()")
            init.part(self.loop_part(module, listed, carried[0], False, indent, "self"))
            instance.written = self.list_forward(module, listed)
            instance.flow = ("list", tuple(instance.forward))
        elif instance.chain and (loops or branches):
            self.list_template(instance, init, loops, branches, carried, indent)
        elif instance.chain and any(child != str(i) for i, child in enumerate(module.children)):
            self.uses_ordered_dict = True  # one statement, laid out by `fit` as a formatter would
            init.text("super().__init__(OrderedDict([")
            for i, child in enumerate(module.children):
                init.text((", " if i else "") + f"({python_literal(child)}, ")
                self.child_expression((*module.path, child), init, child)
                init.text(")")
            init.text("]))")
        elif instance.chain or instance.parallel:  # nn.Sequential(a, b), nn.ModuleList([a, b])
            inner = indent + ("        " if instance.parallel else "    ")
            init.text("super().__init__(" + (indent + "    [" if instance.parallel else ""))
            for child in module.children:
                init.text(inner)
                self.child_expression((*module.path, child), init, child)
                init.text(",")
            init.text((indent + "    ]" if instance.parallel else "") + indent + ")")
            if instance.parallel:
                instance.written = self.parallel_forward(module)
                instance.flow = ("parallel", tuple(instance.forward))
            elif self.network.run(module.path) is not None:
                instance.written = functools.partial(self.run_forward, module)
                instance.flow = ("run", tuple(instance.forward))
        else:
            init.text("super().__init__()")
            switches = [c for c in own if isinstance(c, Choice) and not c.depth
                        and not any(c.passes)]
            if len(switches) > 1 or (switches and choices):
                raise Unshared  # one switch per class, and no optional children beside it
            if switches:
                # each branch's children under `if self.condition:` / `else:`, so that the
                # instances taking either branch share the class
                test = Template()
                code = self.code(switches[0].test, self.channels.get(switches[0].value))
                test.hole(switches[0].taken, HoleMeta.of("if", "test", False, code))
                name = self._fresh("condition", set(module.children) | RESERVED)
                body = Template()
                for child in module.children:
                    self.set_child(body, module, child, indent)
                side = switches[0].taken
                init.part(SwitchPart(test, name, (body, None) if side else (None, body),
                                     indent))
                instance.side = side
                instance.written = functools.partial(self.forward, module)
                instance.flow = self.flow(module, set())
                instance.init = init
                return
            first_node = {child: self.members[(*module.path, child)][0]
                          for child in module.children}
            placed: set[int] = set()
            optional: set[str] = set()
            for entry in [*module.children, None]:
                for index, choice in enumerate(choices):
                    if index not in placed and (entry is None
                                                or first_node[entry] >= choice.start):
                        placed.add(index)
                        optional |= set(self.choice_part(instance, init, choice, indent))
                if entry is None or any(entry in c.children for c in choices):
                    continue
                self.set_child(init, module, entry, indent)
            instance.written = functools.partial(self.forward, module)  # reads only the network
            instance.flow = self.flow(module, optional)
        instance.init = init

    def set_child(self, template: Template, module: Module, child: str, indent: str) -> None:
        """`self.child = ...` (a child whose name is no identifier: `add_module`)."""
        if identifier(child):
            template.text(f"{indent}self.{child} = ")
            self.child_expression((*module.path, child), template, child)
        else:
            sub = self.network.modules[(*module.path, child)]
            held = sub.node is not None and OPS[self.network.node(sub.node).op].held
            method = "register_parameter" if held else "add_module"  # a parameter it holds
            template.text(f"{indent}self.{method}({python_literal(child)}, ")
            self.child_expression((*module.path, child), template, f"layer{child}")
            template.text(")")

    def list_template(self, instance: ClassInstance, init: Template, loops: list[Loop],
                      branches: list[Choice],
                      carried: list[tuple[Python | None, list[Python | None]]],
                      indent: str) -> None:
        """A chain with loops or ifs: its children gathered in a list (an OrderedDict where
        they are named), each repeat a for loop and each if a Python if, then given to
        nn.Sequential."""
        module = instance.module
        if any(not loop.starts for loop in loops):
            raise Unshared  # a loop no iteration of which is here: its body is unknown
        named = any(not c.isdigit() for c in module.children) or any(
            loop.names for loop in loops)
        self.uses_ordered_dict |= named
        listed = self.names[0]
        init.text(f"{listed} = OrderedDict()" if named else f"{listed}: list[nn.Module] = []")
        owned = {child for loop in loops for children in loop.children for child in children}
        owned |= {child for branch in branches for child in branch.children}
        controls: list[tuple[int, Loop | Choice, int]] = sorted(
            [(loop.starts[0], loop, i) for i, loop in enumerate(loops)]
            + [(branch.start, branch, -1) for branch in branches], key=lambda c: c[0])
        first = {child: self.members[(*module.path, child)][0] for child in module.children}
        for child in [*module.children, None]:
            while controls and (child is None or first[child] >= controls[0][0]):
                _, control, index = controls.pop(0)
                if isinstance(control, Loop):
                    init.part(self.loop_part(module, control, carried[index], named, indent))
                else:
                    init.part(self.branch_part(module, control, named, indent))
            if child is not None and child not in owned:
                self.add_child(init, module, child, named, indent)
        init.text(f"{indent}super().__init__({listed if named else '*' + listed})")

    def branch_part(self, module: Module, choice: Choice, named: bool,
                    indent: str) -> BranchPart:
        test = Template()
        code = self.code(choice.test, self.channels.get(choice.value))
        test.hole(choice.taken, HoleMeta.of("if", "test", False, code))
        body = Template()
        for child in choice.children:
            key = None if not named or not child.isdigit() else f"str(len({self.names[0]}))"
            self.add_child(body, module, child, named, indent + "    ", key)
        then_side = body if choice.taken else (Template() if choice.passes[0] else None)
        else_side = body if not choice.taken else (Template() if choice.passes[1] else None)
        return BranchPart(test, (then_side, else_side), indent)

    def add_child(self, template: Template, module: Module, child: str, named: bool,
                  indent: str, key: str | None = None, target: str | None = None) -> None:
        """`layers.append(child)`, or `layers[key] = child` in an OrderedDict."""
        target = target or self.names[0]
        if named:
            template.text(f"{indent}{target}[{key or python_literal(child)}] = ")
            self.child_expression((*module.path, child), template, child)
        else:
            template.text(f"{indent}{target}.append(")
            self.child_expression((*module.path, child), template, child)
            template.text(")")

    def loop_part(self, module: Module, loop: Loop,
                  carried: tuple[Python | None, list[Python | None]], named: bool,
                  indent: str, target: str | None = None) -> LoopPart:
        inner = indent + "    "
        names, uses = self.name_code(loop) if loop.names else (None, frozenset[str]())
        count, start = Template(), Template()
        count.hole(len(loop.starts), HoleMeta.of("loop", "count", False, self.code(loop.count)))
        before, after = carried
        start.hole(self.channel_value(loop.value), HoleMeta.of("loop", "channels", True, before))
        bodies, updates = [], []
        for k, children in enumerate(loop.children):
            if names is not None and len(children) != 1:
                raise Unshared
            if named and names is None and any(not c.isdigit() for c in children):
                raise Unshared  # a fixed name in a loop
            body = Template()
            for child in children:
                key = names or (f"str(len({self.names[0]}))" if named else None)
                self.add_child(body, module, child, named, inner, key, target)
            value = self.channel_value(self.iteration_input(loop, k))
            running = (self.names[1], value)
            local = ((loop.var, k), running) if loop.var else (running,)
            bodies.append(body.localised(local))
            out = self.network.boundary(self.iteration_nodes(loop, k)).gives[0]
            step = Template()
            step.hole(self.channel_value(out), HoleMeta.of("loop", "channels", True, after[k]))
            updates.append(step.localised(local))
        return LoopPart(count, start, merged(bodies), merged(updates), loop.var, names, indent,
                        uses)

    def run_forward(self, module: Module) -> list[str]:
        """The forward of an nn.Sequential that does more than apply its children (`run`):
        a loop over them, the values read from earlier children kept as it passes them, and
        the statements of its functional nodes after it."""
        path = module.path
        count = self.network.run(path)
        assert count is not None
        self.forward_module = module
        units = self.units(module)
        reads, gives = self.io(module)
        outputs = [self.network.boundary(nodes).gives[0] for _, nodes in units[:count]]
        rest = units[count:]
        rest_io = [self.network.boundary(nodes) for _, nodes in rest]
        read_later = {*gives, *(r for unit in rest_io for r in unit.reads)}
        running = "out" if reads[0] in read_later else "x"
        state = ForwardNames({reads[0]: "x"})
        state.taken |= {"out", "layer", "index"}
        lines = [f"{running} = x"] if running != "x" else []
        taps: list[tuple[int, str]] = []
        for index, value in enumerate(outputs[:-1]):
            if value in read_later:  # TorchScript needs it defined before the loop
                name = self._fresh(f"x{index}", state.taken)  # x after child `index`
                taps.append((index, name))
                state.names[value] = name
                lines.append(f"{name} = {running}")
        lines.append("for index, layer in enumerate(self):" if taps else "for layer in self:")
        lines.append(f"    {running} = layer({running})")
        for index, name in taps:
            lines += [f"    if index == {index}:", f"        {name} = {running}"]
        state.names[outputs[-1]] = running
        state.holder = {name: node for node, name in state.names.items()}
        schedule = self.schedule(rest, rest_io, gives)
        lines += self.statements(rest, rest_io, schedule, state)
        returned = ", ".join(state.names[g] for g in gives)
        if rest and len(gives) == 1 and lines[-1].startswith(f"{returned} = "):
            lines[-1] = "return " + lines[-1][len(returned) + 3:]
        else:
            lines.append(f"return {returned}")
        return lines

    def parallel_forward(self, module: Module) -> list[str]:
        """The forward of an nn.ModuleList whose children all read its input (`parallel`):
        their outputs, joined by the merge's form over a list."""
        units = self.units(module)
        merge = self.network.node(units[-1][1][0])
        gather = OPS[merge.op].gather
        assert gather is not None
        return [f"return {gather(merge.attrs, '[branch(x) for branch in self]')}"]

    def list_forward(self, module: Module, loop: Loop) -> list[str]:
        """`for layer in self:` and one iteration's statements, which every iteration shares."""
        units = self.units(module)
        bodies = []
        for k in range(len(loop.starts)):
            nodes = self.iteration_nodes(loop, k)
            inside = set(nodes)
            iteration = [(key, ns) for key, ns in units if ns[0] in inside]
            boundary = self.network.boundary([n for _, ns in iteration for n in ns])
            if len(boundary.reads) != 1 or len(boundary.gives) != 1 \
                    or sum(not key.startswith("\0") for key, _ in iteration) != 1:
                raise Unshared
            unit_io = [self.network.boundary(ns) for _, ns in iteration]
            state = ForwardNames({boundary.reads[0]: "x"})
            state.taken.add("layer")
            schedule = self.schedule(iteration, unit_io, boundary.gives)
            self.accessor, self.forward_module = "layer", None
            lines = self.statements(iteration, unit_io, schedule, state)
            self.accessor = None
            result = state.names[boundary.gives[0]]
            if lines and result != "x" and lines[-1].startswith(f"{result} = "):
                lines[-1] = "x = " + lines[-1][len(result) + 3:]  # its last statement: x is free
            elif result != "x":
                lines.append(f"x = {result}")
            bodies.append(lines)
        if any(body != bodies[0] for body in bodies):
            raise Unshared
        return ["for layer in self:", *("    " + line for line in bodies[0]), "return x"]

    def channel_value(self, value: int) -> Any:
        shape = self.network.node(value).shape
        return shape[1] if len(shape) > 1 else None

    def name_code(self, loop: Loop) -> tuple[str, frozenset[str]]:
        """The f-string of a repeated child's name, `f"denselayer{j + 1}"`, and the names it
        reads (a parameter read only there is still one the class takes)."""
        assert loop.names is not None
        text = ""
        uses: set[str] = set()
        for part in loop.names:
            if isinstance(part, str):
                text += part.replace("{", "{{").replace("}", "}}")
                continue
            code = self.code(part)
            if code is None:
                raise Unshared
            text += "{" + code.text + "}"
            uses |= code.uses
        return 'f"' + text + '"', frozenset(uses)

    def choice_part(self, instance: ClassInstance, init: Template, choice: Choice,
                    indent: str) -> tuple[str, ...]:
        """An `if` whose branch sets children: the test, and those children if this instance
        took that branch. Returns the children it may set."""
        negate = choice.passes[0]  # the children come with the test false
        module = instance.module
        test = Template()
        code = self.code(choice.test, self.channels.get(choice.value))
        test.hole(choice.taken, HoleMeta.of("if", "test", False, code))
        body = None
        if choice.taken != negate:
            body = Template()
            for child in choice.children:
                if not identifier(child):
                    raise Unshared
                body.text(f"{indent}    self.{child} = ")
                self.child_expression((*module.path, child), body, child)
        children = choice.children if body is not None else ()
        init.part(ChoicePart(test, body, children, negate, indent, int(body is not None)))
        return children

    def flow(self, module: Module, optional: set[str]) -> tuple[Any, ...]:
        """What a module's forward computes from what, its optional children taken as passing
        their input through: instances whose flows are equal share one forward."""
        units = self.units(module)
        reads, gives = self.io(module)
        ref: dict[int, tuple[Any, ...]] = {r: ("in", i) for i, r in enumerate(reads)}
        steps: list[tuple[Any, ...]] = []
        for key, nodes in units:
            unit = self.network.boundary(nodes)
            if key in optional:
                if len(unit.reads) != 1 or len(unit.gives) != 1:
                    raise Unshared
                ref[unit.gives[0]] = ref[unit.reads[0]]
                continue
            if key.startswith("\0"):
                node = self.network.node(nodes[0])
                op = OPS[node.op]
                if op.passthrough:
                    ref[node.id] = ref[node.inputs[0]]
                    continue
                what = self.function_call(module, node,
                                          [f"#{i}" for i in range(len(node.inputs))])
                inputs = tuple(ref[i] for i in node.inputs)
            else:
                what, inputs = key, tuple(ref[r] for r in unit.reads)
            for g, value in enumerate(unit.gives):
                ref[value] = ("unit", len(steps), g)
            steps.append((what, inputs))
        return tuple(steps), tuple(ref[g] for g in gives)

    def function_call(self, module: Module | None, node: Node, args: list[str]) -> str:
        """A functional node's expression (its op's `function`). In a block's class, an
        attribute the spec wrote over the block's parameters reads them as attributes of the
        module (`x[:, :self.half_]`), so that instances of other sizes share the forward;
        the parameters read are recorded in `kept` for __init__ to store."""
        op = OPS[node.op]
        assert op.function is not None
        if op.helper is not None and op.module is None:  # its function calls the helper
            self.helpers.add(op.name)  # (MaxViT's window_partition), defined in the file
        if module is None or module.kind != "block" or not node.sources:
            return op.function(node.attrs, args)
        kept = self.kept.setdefault(module.path, {})
        taken = set(module.children) | set(kept.values()) | RESERVED | MODULE_ATTRIBUTES
        attrs = dict(node.attrs)
        reads: dict[str, str] = {}
        for attr, expr in node.sources.items():
            code = parameter_code(expr, self.params, None, self.network.params)
            if code is None or not code.uses or RUNNING in code.uses:
                continue
            names = {}
            for param in code.uses:
                if param not in kept and param not in reads:
                    reads[param] = self._fresh(param if param not in taken else f"{param}_",
                                               taken)
                names[param] = Python(f"self.{kept.get(param) or reads[param]}")
            replaced = substitute(code.text, names)
            if replaced is not None:
                attrs[attr] = replaced
        if not reads and attrs == node.attrs:
            return op.function(node.attrs, args)
        try:
            text = op.function(attrs, args)
        except (TypeError, ValueError):  # a rule that computes with the value: it stays
            return op.function(node.attrs, args)
        kept.update(reads)
        return text

    # -- forward
    def forward(self, module: Module) -> list[str]:
        """The body of a class's forward: one statement per child module or functional node,
        in the network's order, ending in the return."""
        self.forward_module = module
        units = self.units(module)
        reads, gives = self.io(module)
        state = ForwardNames(dict(zip(reads, self.argument_names(module), strict=True)))
        unit_io = [self.network.boundary(nodes) for _, nodes in units]
        training = self.network.training_outputs if not module.path else []
        schedule = self.schedule(units, unit_io, (*gives, *(n for _, n in training)))
        lines = self.statements(units, unit_io, schedule, state)
        if training:
            returned = self.returned(training, self.network.training_keyed, state)
            lines = [*self.while_training(units, lines), f"if {TRAINING}:",
                     f"    return {returned}"]
        returned = ", ".join(state.names[g] for g in gives)
        if not module.path and self.network.keyed:  # {"out": out, "aux": aux}: keys are names
            lines.append("return " + self.returned(self.network.outputs, True, state))
        elif (lines and len(gives) == 1 and lines[-1].startswith(f"{returned} = ")
              and not training):
            lines[-1] = "return " + lines[-1][len(returned) + 3:]
        else:
            lines.append(f"return {returned}")
        return lines

    @staticmethod
    def returned(outputs: list[tuple[str, int]], keyed: bool, state: ForwardNames) -> str:
        """What a return statement returns: the outputs' variables, or a dict of them
        (`{"out": out, "aux": aux}`, the keys being the outputs' names)."""
        if keyed:
            return "{" + ", ".join(f'"{key}": {state.names[n]}' for key, n in outputs) + "}"
        return ", ".join(state.names[n] for _, n in outputs)

    def while_training(self, units: list[tuple[str, list[int]]], lines: list[str]) -> list[str]:
        """The network's statements with those only the training outputs need under `if
        self.training and not torch.jit.is_scripting():`, a run of them under one `if`.
        TorchScript compiles the eval path only (the condition is static there), so a
        scripted or exported model returns the outputs whatever its mode."""
        only = self.network.training_only
        guarded_lines: list[str] = []
        inside = False
        for line, unit in zip(lines, self.line_units, strict=True):
            guarded = all(n in only for n in units[unit][1])
            if guarded and not inside:
                guarded_lines.append(f"if {TRAINING}:")
            inside = guarded
            guarded_lines.append(("    " if guarded else "") + line)
        return guarded_lines

    def schedule(self, units: list[tuple[str, list[int]]], unit_io: list[Boundary],
                 gives: tuple[int, ...]) -> Schedule:
        """Number the statements and find when each value is first and last used, so that
        names can be chosen by lifetime. Identity-like functions (their expression is their
        argument) make no statement: their output is another name for their input, and uses
        are counted in the statements that remain."""
        canonical: dict[int, int] = {}
        step: list[int] = []
        count = 0
        for (key, nodes), unit in zip(units, unit_io, strict=True):
            node = self.network.node(nodes[0])
            alias = key.startswith("\0") and OPS[node.op].passthrough
            if alias:
                canonical[unit.gives[0]] = canonical.get(node.inputs[0], node.inputs[0])
            step.append(count)
            count += not alias
        schedule = Schedule(step, canonical)
        for index, unit in enumerate(unit_io):
            if any(canonical.get(g) is not None for g in unit.gives):
                continue
            for value in unit.reads:
                value = canonical.get(value, value)
                schedule.first_use.setdefault(value, step[index])
                schedule.last_use[value] = step[index]
        for value in gives:
            schedule.last_use[canonical.get(value, value)] = count
        return schedule

    def statements(self, units: list[tuple[str, list[int]]], unit_io: list[Boundary],
                   schedule: Schedule, state: ForwardNames) -> list[str]:
        """One `targets = expression` line per statement, naming the values it gives; an
        alias makes no line, its expression standing in wherever its value is read.
        `line_units` then holds the unit each line is of."""
        lines = []
        self.line_units: list[int] = []
        for index, ((key, nodes), unit) in enumerate(zip(units, unit_io, strict=True)):
            accumulated = self.accumulated(key, nodes, state)
            if accumulated is not None:  # `bn3 += x`: the sum is written into its first term
                line, held = accumulated
                state.holder[held] = unit.gives[0]
                state.names[unit.gives[0]] = held
                lines.append(line)
                self.line_units.append(index)
                continue
            expression = self.unit_expression(key, nodes, unit.reads, state.names)
            if unit.gives and unit.gives[0] in schedule.canonical:
                state.names[unit.gives[0]] = expression
                continue
            targets = []
            for value in unit.gives:
                name = self.target_name(value, key, len(unit.gives) == 1, schedule.step[index],
                                        schedule, state)
                state.holder[name] = value
                state.names[value] = name
                targets.append(name)
            lines.append(f"{', '.join(targets)} = {expression}")
            self.line_units.append(index)
        return lines

    def accumulated(self, key: str, nodes: list[int],
                    state: ForwardNames) -> tuple[str, str] | None:
        """A merge written in place, as a person writes `out += identity`, and the variable
        that then holds its result; None where it must make a new tensor. Its first term must
        be a variable of this forward that nothing else reads, computed by an op whose
        backward does not need its output (`Op.writable_output`): the sum then saves an
        allocation (2-5% of a ResNet's forward) and gradients are unchanged."""
        if not key.startswith("\0"):
            return None
        node = self.network.node(nodes[0])
        op = OPS[node.op]
        if op.accumulate is None or not node.inputs:
            return None
        first = node.inputs[0]
        name = state.names.get(first)
        producer = self.network.node(first)
        if (name is None or state.holder.get(name) != first or first in node.inputs[1:]
                or self.network.consumers(first) != [node.id]
                or first in self.network.output_ids or producer.is_input
                or not OPS[producer.op].writable_output):
            return None
        line = op.accumulate(node.attrs, [state.names[i] for i in node.inputs])
        return (line, name) if line is not None else None

    def unit_expression(self, key: str, nodes: list[int], reads: tuple[int, ...],
                        names: dict[int, str]) -> str:
        """What one unit computes, over the names of its inputs: a child module called on
        them, or a functional node's expression (its op's `function`)."""
        if key.startswith("\0"):
            node = self.network.node(nodes[0])
            return self.function_call(self.forward_module, node,
                                      [names[i] for i in node.inputs])
        accessor = self.accessor or (f"self.{key}" if identifier(key)
                                     else f"getattr(self, {python_literal(key)})")
        node = self.network.node(nodes[0])
        call = OPS[node.op].call
        if len(nodes) == 1 and call is not None:  # `self.layer_scale * x`, attention's call
            return call(node.attrs, [*(names[r] for r in reads), accessor])
        return f"{accessor}({', '.join(names[r] for r in reads)})"

    def target_name(self, value: int, key: str, alone: bool, here: int, schedule: Schedule,
                    state: ForwardNames) -> str:
        """The variable statement `here` puts `value` in. A value used once, by the next
        statement, flows in a running variable (`x`, or `out` while `x` is still needed), as a
        person writes `x = self.conv(x)`; other values are named after their entry."""
        if (alone and schedule.first_use.get(value) == here + 1
                and schedule.last_use.get(value) == here + 1):
            for running in ("x", "out"):
                held = state.holder.get(running)
                if held is None or schedule.last(held) <= here:
                    return running
        node = self.network.node(value)
        # a child module's value is named after the child (`aux_logits = self.AuxLogits(x)`),
        # a functional node's after its entry or op
        hint = key if identifier(key) else node.name or node.op
        return self._fresh(_unshadowed(hint), state.taken)

    def io(self, module: Module) -> tuple[tuple[int, ...], tuple[int, ...]]:
        boundary = self.network.module_boundary(module.path)
        return boundary.reads, boundary.gives

    def argument_names(self, module: Module) -> list[str]:
        reads, _ = self.io(module)
        if module.kind == "root":
            taken: set[str] = {"self", "torch", "nn"}
            return [self._fresh(name, taken) for name in self.network.inputs]
        if len(reads) == 1:
            return ["x"]
        taken = {"self", "torch", "nn"}
        if module.tensors:  # a block's input and its tensor arguments, named as the block does
            given = {node: param for param, node in module.tensors.items()}
            taken |= set(given.values())
            return [given.get(r) or self._fresh("x", taken) for r in reads]
        return [self._fresh(self.value_name(r), taken) for r in reads]

    def value_name(self, node_id: int) -> str:
        """A variable name for a value: the name of the entry it is the output of (with a
        trailing _ where that would hide a Python builtin: `slice_`, `max_`)."""
        node = self.network.node(node_id)
        if node.name:
            return _unshadowed(node.name)
        path = node.module if node.module is not None else node.scope
        while path:
            members = self.members.get(path, [])
            if not members or max(members) != node_id:
                break
            if identifier(path[-1]):
                return _unshadowed(path[-1])
            path = path[:-1]
        return "x"

    @staticmethod
    def _fresh(hint: str, taken: set[str]) -> str:
        base = hint if identifier(hint) else "x"
        name, counter = base, 1
        while name in taken:
            name = f"{base}_{counter}"
            counter += 1
        taken.add(name)
        return name

    # -- one class for a group of instances with the same template
    def resolve_class(self, group: list[ClassInstance], class_name: str) -> list[str]:
        """The class of a group of instances with the same template: each hole becomes code
        all of them share or a new constructor parameter, and each instance learns the call
        that builds it. Raises Unshared if a loop or condition has no code in common."""
        first = group[0]
        info = self.blocks.get(first.family) if first.module.kind == "block" else None
        params, doc = (info.params, info.doc) if info else ([], None)
        defaults = info.defaults if info else {}
        if first.module.kind == "root":  # the spec's parameters its code takes, at their values
            params = [p for p in self.network.params if p in self.root_params]
            defaults = {p: self.network.params[p] for p in params}
        template = merged([inst.init.owned(i) for i, inst in enumerate(group)  # type: ignore
                           ])
        codes, used, extra = self.hole_codes(group, template, params)
        used |= _loop_name_uses(template)
        kept: dict[str, str] = {}
        for inst in group:
            kept.update(self.kept.get(inst.module.path, {}))
        used |= set(kept)
        self.resolved = template, codes
        computed = self.computed_defaults(group, info, used) if info else []
        params = [p for p in params if p not in {name for name, _ in computed}]
        forward = self.merged_forward(group, template, codes)
        signature, required = self.signature(params, used, extra, defaults)
        outputs = {inst.output.text if inst.output else None for inst in group}
        out = outputs.pop() if len(outputs) == 1 else None
        if out is not None and any(n not in signature
                                   for n in re.findall(r"[A-Za-z_]\w*", out)):
            out = None  # it reads a name the caller does not pass
        self.bind_instances(group, class_name, signature, extra,
                            {name: defaults[name] for name in signature[required:]}, out)
        rendered = []
        for i, name in enumerate(signature):
            values = [dict(inst.call)[name] for inst in group if name in dict(inst.call)]
            hint = annotation([*values, *([defaults[name]] if i >= required else [])])
            text = f"{name}: {hint}" if hint else name
            rendered.append(text if i < required else
                            f"{text} = {python_literal(defaults[name])}" if hint else
                            f"{text}={python_literal(defaults[name])}")
        self.names = first.names
        self.constants = []
        body = self.render(template, codes, RUNNING in used or self.names[1] in used)
        if kept:  # what forward reads of the parameters, kept once the module is made
            start = "super().__init__()"
            assert body.startswith(start)
            body = start + "".join(f"\n        self.{attr} = {param}"
                                   for param, attr in sorted(kept.items())) + body[len(start):]
        body = "".join(f"{name} = {code}\n        " for name, code in computed) + body
        return self.class_lines(first, class_name, rendered, body, forward, doc)

    def computed_defaults(self, group: list[ClassInstance], info: BlockInfo,
                          used: set[str]) -> list[tuple[str, str]]:
        """Parameters whose default is an expression (`width: in.c`) that no call writes:
        the class computes them as the spec does, first thing in `__init__`, instead of
        taking them as arguments. Adds what that code reads to `used`."""
        out: list[tuple[str, str]] = []
        self.params = frozenset(info.params)
        # the last first: what a later default reads may be computed itself
        for name, expr in reversed(list(info.computed.items())):
            if name not in used or any(name in inst.module.sources for inst in group):
                continue
            before = set(info.params[:info.params.index(name)])
            code = parameter_code(expr, before, Python("in_channels", frozenset({"in_channels"})),
                                  self.network.params)
            if code is None or (any(inst.in_channels is None for inst in group) and \
                    "in_channels" in code.uses):
                continue
            out.insert(0, (name, code.text))
            used |= code.uses
        return out

    @staticmethod
    def instance_candidates(inst: ClassInstance, params: list[str],
                            ) -> dict[str, tuple[Any, str]]:
        """What may stand for a hole in one instance, with its value there and the parameter
        it reads: in_channels, each parameter of the block, each item of a list parameter."""
        table: dict[str, tuple[Any, str]] = {}
        if inst.module.kind == "block" and inst.in_channels is not None:
            table["in_channels"] = (inst.in_channels, "in_channels")
        for name in params:
            value = inst.module.args.get(name)
            table[name] = (value, name)
            if isinstance(value, list):
                for k, item in enumerate(value):
                    table[f"{name}[{k}]"] = (item, name)
        return table

    def hole_codes(self, group: list[ClassInstance], template: Template, params: list[str],
                   ) -> tuple[dict[tuple[int, int], str], set[str], list[tuple[str, list[Any]]]]:
        """The code of each hole of the group's merged template (by template and index), the
        names that code reads, and the new constructor parameters (with each instance's
        value) for the holes no shared code fills; only holes outside loops and conditions
        can become parameters."""
        tables = [self.instance_candidates(inst, params) for inst in group]
        used: set[str] = set()
        extra: list[tuple[str, list[Any]]] = []
        codes: dict[tuple[int, int], str] = {}

        def visit(part: Template, nested: bool) -> None:
            for index, rows in enumerate(part.rows):
                values = [r.value for r in rows]

                def candidates(rows: list[Row] = rows) -> list[tuple[str, list[Any], str]]:
                    rowed = [{**tables[r.owner], **{n: (v, n) for n, v in r.local}}
                             for r in rows]
                    names = [n for n in rowed[0] if all(n in t for t in rowed)]
                    return [(n, [t[n][0] for t in rowed], rowed[0][n][1]) for n in names]

                shared = self.shared_code([r.meta for r in rows], values, candidates)
                if shared is None:
                    if nested:
                        raise Unshared
                    meta = rows[0].meta
                    base = re.sub(r"\W+", "_", f"{meta.owner}_{meta.attr}").strip("_")
                    if not identifier(base):  # a numbered child's (`1_p`): its attribute's
                        base = meta.attr if identifier(meta.attr) else f"arg_{meta.attr}"
                    name = self._fresh(_unshadowed(base), {e for e, _ in extra} | set(params)
                                       | {"in_channels"})
                    extra.append((name, values))
                    shared = name, frozenset()
                codes[(id(part), index)] = shared[0]
                used.update(shared[1])
            for control in part.control:
                subs = (control.test, control.body) if isinstance(control, ChoicePart) \
                    else control.templates()
                for sub in subs:
                    if sub is not None:
                        visit(sub, True)

        visit(template, False)
        return codes, used, extra

    def render(self, template: Template, codes: dict[tuple[int, int], str],
               running: bool) -> str:
        """A template's text with its holes filled and its loops and conditions written."""
        out: list[str] = []
        for part in template.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, Hole):
                out.append(codes[(id(template), part.index)])
            else:
                control = template.control[part.index]
                if isinstance(control, LoopPart):
                    out.append(self.render_loop(control, codes, running))
                elif isinstance(control, BranchPart):
                    out.append(self.render_branch(control, codes, running))
                elif isinstance(control, SwitchPart):
                    out.append(self.render_switch(control, codes, running))
                else:
                    out.append(self.render_choice(control, codes, running))
        return "".join(out)

    def render_loop(self, loop: LoopPart, codes: dict[tuple[int, int], str],
                    running: bool) -> str:
        indent = loop.indent
        count = self.render(loop.count, codes, running)
        carried = self.names[1]
        text = f"{indent}{carried} = {self.render(loop.start, codes, running)}" if running else ""
        text += f"{indent}for {loop.var or '_'} in range({count}):"
        text += self.render(loop.body, codes, running)
        update = self.render(loop.update, codes, running)
        if running and update != carried:
            text += f"{indent}    {carried} = {update}"
        return text

    def render_branch(self, branch: BranchPart, codes: dict[tuple[int, int], str],
                      running: bool) -> str:
        """`if test:` one side's children, `else:` the other's; a side that adds nothing, or
        that no instance took, is left out (its children were never elaborated)."""
        indent = branch.indent
        then, other = (self.render(b, codes, running) if b is not None else ""
                       for b in branch.bodies)
        test = self.render(branch.test, codes, running)
        if test in ("True", "False"):  # no code for the test: every instance took one side
            side = then if test == "True" else other
            return side.replace(indent + "    ", indent)
        if then and other:
            return f"{indent}if {test}:{then}{indent}else:{other}"
        if then:
            return f"{indent}if {test}:{then}"
        if other:
            test = f"not {test}" if test.isidentifier() else f"not ({test})"
            return f"{indent}if {test}:{other}"
        return ""

    def render_switch(self, switch: SwitchPart, codes: dict[tuple[int, int], str],
                      running: bool) -> str:
        """`self.condition = test`, the children both branches set alike, then `if
        self.condition:` the others; where every instance took one branch, its children
        alone (forward then reads no condition)."""
        indent = switch.indent
        then, other = ([line for line in self.render(b, codes, running).split(indent) if line]
                       if b is not None else None for b in switch.bodies)
        if then is None or other is None:
            return "".join(indent + line for line in (then or other or []))
        common = 0
        while common < min(len(then), len(other)) and then[common] == other[common]:
            common += 1
        test = self.render(switch.test, codes, running)
        text = f"{indent}self.{switch.name} = {test}"
        text += "".join(indent + line for line in then[:common])
        inner = indent + "    "
        then, other = then[common:], other[common:]
        # a child of one branch only is None in the other, and the condition a constant of
        # the class: TorchScript then compiles only the branch of forward each instance takes
        set_then, set_other = ({m[1]: line for line in side if (m := re.match(r"self\.(\w+) = ",
                                                                           line))}
                               for side in (then, other))
        if set(set_then) != set(set_other):
            self.constants.append(switch.name)
            then += [f"self.{child} = None" for child in set_other if child not in set_then]
            other += [f"self.{child} = None" for child in set_then if child not in set_other]
        if then:
            text += f"{indent}if self.{switch.name}:" + "".join(inner + line for line in then)
            if other:
                text += f"{indent}else:" + "".join(inner + line for line in other)
        elif other:
            text += f"{indent}if not self.{switch.name}:" + "".join(inner + line
                                                                  for line in other)
        return text

    def render_choice(self, choice: ChoicePart, codes: dict[tuple[int, int], str],
                      running: bool) -> str:
        if choice.body is None:
            return ""  # no instance sets these children
        body = self.render(choice.body, codes, running)
        indent = choice.indent
        if not body.strip() and not choice.children:  # a branch of functions only (a permute)
            return ""
        if not choice.conditional(codes):
            return body.replace(indent + "    ", indent)
        test = self.render(choice.test, codes, running)
        if choice.negate:
            test = f"not {test}" if test.isidentifier() else f"not ({test})"
        text = f"{indent}if {test}:{body}{indent}else:"
        return text + "".join(f"{indent}    self.{child} = None" for child in choice.children)

    def merged_forward(self, group: list[ClassInstance], template: Template,
                       codes: dict[tuple[int, int], str]) -> list[str]:
        """The forward of the group's class: that of an instance that sets every optional
        child, each call of one made conditional (`if self.downsample is not None:`)."""
        switch = next((c for c in template.control if isinstance(c, SwitchPart)), None)
        if switch is not None:
            sides: dict[bool | None, ClassInstance] = {}
            for inst in group:
                if sides.setdefault(inst.side, inst).flow != inst.flow:
                    raise Unshared
            if len(sides) == 1:  # one branch only: its statements (the test is not needed)
                return group[0].forward
            return [f"if self.{switch.name}:", *("    " + line for line in sides[True].forward),
                    "else:", *("    " + line for line in sides[False].forward)]
        optional = [c for c in template.control
                    if isinstance(c, ChoicePart) and c.conditional(codes)]
        if not optional:
            return group[0].forward
        wanted = {child for c in optional for child in c.children}
        base = next((inst for inst in group
                     if wanted <= set(inst.module.children)), None)
        if base is None:
            raise Unshared
        lines: list[str] = []
        for line in base.forward:
            match = re.fullmatch(r"(\w+) = self\.(\w+)\((\w+)\)", line)
            if match is None or match[2] not in wanted:
                if any(f"self.{child}(" in line for child in wanted):
                    raise Unshared  # an optional child called in a way not written here
                lines.append(line)
                continue
            target, child, argument = match.groups()
            if target != argument:
                lines.append(f"{target} = {argument}")
            lines += [f"if self.{child} is not None:", f"    {line}"]
        return lines

    @staticmethod
    def shared_code(metas: list[HoleMeta], values: list[Any],
                    candidates: Callable[[], list[tuple[str, list[Any], str]]],
                    ) -> tuple[str, frozenset[str]] | None:
        """Code one class body can hold for a hole's values in every instance, and the
        parameters it reads: the expression the spec wrote, when all wrote the same; else a
        candidate that holds exactly these values (not for booleans: a flag equal to a
        parameter by chance is not that parameter); else the literal they all share.
        `candidates` lists them when asked (only where no expression is shared)."""
        if metas[0].expr is not None and all(m.expr == metas[0].expr for m in metas):
            return metas[0].expr, metas[0].uses
        constant = all(same(v, values[0]) for v in values)
        if not constant and not isinstance(values[0], bool):
            for text, candidate_values, root in candidates():
                if all(same(c, v) for c, v in zip(candidate_values, values, strict=True)):
                    return text, frozenset({root})
        return (python_literal(values[0]), frozenset()) if constant else None

    @staticmethod
    def signature(params: list[str], used: set[str], extra: list[tuple[str, list[Any]]],
                  defaults: dict[str, Any]) -> tuple[list[str], int]:
        """The constructor's parameters in order (in_channels, the block's own that the body
        reads, then the new ones) and how many lead those that keep a default: trailing
        parameters with plain defaults keep them, as a person would write."""
        names = (["in_channels"] if "in_channels" in used else []) + [
            p for p in params if p in used] + [e for e, _ in extra]
        with_default = 0
        for name in reversed(names):
            if name not in defaults:
                break
            with_default += 1
        return names, len(names) - with_default

    @staticmethod
    def bind_instances(group: list[ClassInstance], class_name: str, signature: list[str],
                       extra: list[tuple[str, list[Any]]], defaults: dict[str, Any],
                       out_code: str | None) -> None:
        """Give each instance its class and the constructor call that builds it (arguments
        at a kept default are left out where it is used, by `child_expression`)."""
        for position, inst in enumerate(group):
            call: list[tuple[str, Any]] = []
            for name in signature:
                if name == "in_channels":
                    call.append((name, inst.in_channels))
                elif name in inst.module.args:
                    call.append((name, inst.module.args[name]))
            call += [(name, values[position]) for name, values in extra]
            inst.call = call
            inst.class_name = class_name
            inst.defaults = dict(defaults)
            inst.out_code = out_code

    def class_lines(self, first: ClassInstance, class_name: str, signature: list[str],
                    body: str, forward: list[str], doc: str | None) -> list[str]:
        """The class's source: its docstring, its __init__ and, unless it is an
        nn.Sequential, its forward."""
        base = "nn.Sequential" if first.chain else "nn.ModuleList" \
            if first.listed or first.parallel else "nn.Module"
        lines = [f"class {class_name}({base}):"]
        if doc:
            lines += [*docstring(doc, "    "), ""]
        if self.constants:  # TorchScript's: what forward branches on is fixed per instance
            lines += [f"    __constants__ = {python_literal(sorted(self.constants))}", ""]
        head = f"    def __init__({', '.join(['self', *signature])}) -> None:"
        if len(head) > WIDTH:  # one parameter per line, as a formatter breaks it
            head = "\n".join(["    def __init__(", *(f"        {p}," for p in ["self", *signature]),
                              "    ) -> None:"])
        code = [*head.split("\n"), *("        " + body).split("\n")]
        if forward:
            arguments = ", ".join(f"{a}: torch.Tensor" for a in self.argument_names(first.module))
            count = len(self.io(first.module)[1])
            returns = "torch.Tensor" if count == 1 else (
                "tuple[" + ", ".join(["torch.Tensor"] * count) + "]")
            if not first.module.path and self.network.keyed:
                returns = "dict[str, torch.Tensor]"
            if not first.module.path and self.network.training_outputs:
                training = self.network.training_outputs
                also = "dict[str, torch.Tensor]" if self.network.training_keyed else \
                    "torch.Tensor" if len(training) == 1 else \
                    "tuple[" + ", ".join(["torch.Tensor"] * len(training)) + "]"
                if also != returns:
                    returns = f"{returns} | {also}"
            code += ["", f"    def forward(self, {arguments}) -> {returns}:"]
            code += ["        " + line for line in forward]
        return lines + fit(code)  # statements too long for a line broken inside brackets

    # -- the whole file
    def generate(self) -> str:
        self.collect(())
        # a class can be written once the classes of the instances nested in it are: count,
        # for each instance, its nested instances that have no class yet
        parent: dict[Path, Path | None] = {}
        waiting: dict[Path, int] = dict.fromkeys(self.instances, 0)
        for path in self.instances:
            above = next((path[:depth] for depth in range(len(path) - 1, -1, -1)
                          if path[:depth] in self.instances), None)
            parent[path] = above
            if above is not None:
                waiting[above] += 1
        pending = list(self.instances.values())
        classes: list[list[str]] = []
        while pending:
            ready = [i for i in pending if not waiting[i.module.path]]
            blocked = {i.family for i in pending if waiting[i.module.path]}
            families = {i.family for i in ready} - blocked
            if not families:  # families nest in each other: resolve the deepest ready ones
                families = {ready[0].family}
            done: set[Path] = set()
            for family in sorted(families):
                members = [i for i in ready if i.family == family]
                root = any(not i.module.path for i in members)
                classes += self.root_class(members) if root else self.family_classes(members)
                for inst in members:
                    done.add(inst.module.path)
                    above = parent[inst.module.path]
                    if above is not None:
                        waiting[above] -= 1
            pending = [i for i in pending if i.module.path not in done]
        return self.render_file(classes)

    def root_class(self, members: list[ClassInstance]) -> list[list[str]]:
        """The network's class. It takes as arguments, with their values as defaults, the
        spec parameters its code reads as the spec wrote them (`nn.Linear(2048,
        num_classes)`), where code computed from nothing else would change with them; the
        others are fixed in the file at their values."""
        taken = set(self.network.parameter_uses)
        while True:
            self.root_params = taken
            names, ordered = set(self.class_names), self.uses_ordered_dict
            classes = self.family_classes(members)
            fixed = self.fixed_parameters(taken)
            if not fixed:
                return classes
            self.class_names, self.uses_ordered_dict = names, ordered
            taken = taken - fixed

    def fixed_parameters(self, taken: set[str]) -> set[str]:
        """Which of the parameters the network's class was written to take it cannot: one
        the spec reads where the class writes a value (a repeat count, a block's argument, an
        unprintable expression), or one that changes the shape of a value some code of the
        class holds as a number (an inferred size), or that a nested class was written for."""
        assert self.resolved is not None
        template, codes = self.resolved
        printed: list[tuple[HoleMeta, set[int]]] = []
        literal: list[HoleMeta] = []
        todo = [template]
        while todo:
            part = todo.pop()
            for index, rows in enumerate(part.rows):
                meta = rows[0].meta
                if meta.expr is not None and codes[(id(part), index)] == meta.expr:
                    named = {id(n) for n in names_in(meta.source)} if meta.source else set()
                    printed.append((meta, named))
                else:
                    literal.append(meta)
            for control in part.control:
                todo += [t for t in ((control.test, control.body)
                                     if isinstance(control, ChoicePart) else control.templates())
                         if t is not None]
        written = set().union(*(named for _, named in printed))
        fixed = set()
        for name in taken:
            uses = {id(n) for n in self.network.parameter_uses[name]}
            if not uses <= written:
                fixed.add(name)
                continue
            tainted: set[int] = set()
            for meta, named in printed:
                if not uses & named:
                    continue
                if meta.node is None or meta.inferred:  # a block's argument
                    tainted.add(-1)
                elif self.changes_shape(self.network.node(meta.node), meta.attr):
                    tainted |= {meta.node} | self.network.descendants(meta.node)
            if -1 in tainted or any(m.inferred and m.node in tainted for m in literal) or any(
                    self.in_nested_class(n) for n in tainted):
                fixed.add(name)
        return fixed

    def changes_shape(self, node: Node, attr: str) -> bool:
        """Whether another value of one of a node's attributes may change its output shape
        (the op's own rule, tried on nearby values; any doubt says yes)."""
        value = node.attrs.get(attr)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        op = OPS[node.op]
        shapes = self.network.input_shapes(node)
        nearby = [value + 1, value + 2] if isinstance(value, int) else [value / 2, value / 3]
        for other in nearby:
            try:
                if op.shape({**node.attrs, attr: other}, shapes) != node.shape:
                    return True
            except Exception:  # a rule refusing the value is a doubt too
                return True
        return False

    def in_nested_class(self, node_id: int) -> bool:
        """Whether a node is computed inside a class other than the network's (whose code
        was written for the shapes it has now), or is a function with inferred sizes."""
        node = self.network.node(node_id)
        owner = node.module if node.module is not None else node.scope
        if any(owner[:end] in self.instances for end in range(1, len(owner) + 1)):
            return True
        return node.module is None and not node.is_input and any(
            a.inferred for a in OPS[node.op].attrs)

    def family_classes(self, members: list[ClassInstance]) -> list[list[str]]:
        """The classes of one block's instances: one, looping and branching as the spec
        does, where their templates agree; else one per structure, unrolled."""
        if len({inst.chain for inst in members}) > 1:  # some with a forward: all with one
            for inst in members:
                inst.chain = False
        for control in (True, False):
            names = set(self.class_names)
            ordered = self.uses_ordered_dict
            try:
                groups: dict[tuple[Any, ...], list[ClassInstance]] = {}
                for inst in members:
                    self.build_template(inst, control)
                    assert inst.init is not None
                    flow = () if inst.side is not None else inst.flow  # a switch: per side
                    key = (inst.chain, inst.init.key(), flow,
                           () if control else tuple(inst.forward))
                    groups.setdefault(key, []).append(inst)
                return [self.resolve_class(group, self._class_name(group[0]))
                        for group in groups.values()]
            except Unshared:
                self.class_names, self.uses_ordered_dict = names, ordered
                if not control:
                    raise
        raise AssertionError("unreachable")

    def _class_name(self, instance: ClassInstance) -> str:
        base = camel(instance.family)
        if keyword.iskeyword(base):  # a block or network named none, true or false
            base += "_"
        name, counter = base, 2
        while name in self.class_names:
            name = f"{base}{counter}"
            counter += 1
        self.class_names.add(name)
        return name

    def render_file(self, classes: list[list[str]]) -> str:
        doc = f"{self.network.name}: {self.network.doc}" if self.network.doc else self.network.name
        lines = [*docstring(f"{doc}\n\nGenerated by archc from its spec; edit the spec, not "
                            "this file.", ""), ""]
        if self.uses_ordered_dict:
            lines += ["from collections import OrderedDict", ""]
        body = [line for class_lines in classes for line in class_lines]
        # once each, in the registry's order: ops may share one (the held ops' `parameter`)
        helpers = list(dict.fromkeys(helper for name, op in OPS.items()
                                     if name in self.helpers and op.helper
                                     for helper in (*op.helper.needs, op.helper)))
        uses_torch = self.uses_weights or self.uses_init or bool(helpers) or any(
            "torch." in line for line in body)
        lines += [*(["import torch"] if uses_torch else []), "from torch import nn"]
        if self.uses_weights:
            lines += [
                "", "",
                "def with_weights(module: nn.Module, weight: list) -> nn.Module:",
                '    """Load the fixed initial weights written in the spec."""',
                "    with torch.no_grad():",
                "        module.weight.copy_(torch.tensor(weight))",
                "    return module",
            ]
        if self.uses_init:
            lines += ["", "", *initializer_lines()]  # from the one init table
        for helper in helpers:  # in the registry's order: deterministic
            lines += ["", "", *helper.lines]
        for class_lines in classes:
            lines += ["", "", *class_lines]
        return "\n".join(lines) + "\n"


def source_filename(text: str, label: str) -> str:
    """The file name generated source runs under (tracebacks, inspect and TorchScript read
    it through linecache): one per text, so two texts never share one."""
    return f"<archc:{label}:{hashlib.sha256(text.encode()).hexdigest()[:12]}>"


@dataclass(frozen=True)
class Source:
    """Generated source and the name of the class that is the whole network; `code` is the
    text compiled under `source_filename(text, network name)` when it was asked for (a
    build runs it, so the text is checked and compiled once)."""

    text: str
    class_name: str
    code: CodeType | None = field(default=None, compare=False, repr=False)


@without_collector
def generate_source(network: Network, compiled: bool = False) -> Source:
    """IR network → the source text of a standalone PyTorch module (deterministic); with
    `compiled`, also its code object."""
    generator = Generator(network)
    text = generator.generate()
    code = None
    try:  # the text is run by build and written by compile: it must be the Python it claims
        if compiled:
            # postponed annotations, as the text has always been run (the module building
            # it says `from __future__ import annotations`)
            code = compile(text, source_filename(text, network.name), "exec",
                           flags=__future__.annotations.compiler_flag, dont_inherit=True)
        else:
            pyast.parse(text)
    except SyntaxError as error:
        raise ArchcError("archc generated source that is not valid Python: this is a bug in "
                         "archc; please report it with the spec", network.modules[()].span,
                         found=f"line {error.lineno}: {error.msg}") from None
    return Source(text, generator.instances[()].class_name, code)
