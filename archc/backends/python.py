"""The primary backend: IR network → readable, standalone PyTorch source.

Input: an `ir.Network`. Output: the text of a Python module that imports only torch and
defines one class per block definition (and per container that is not a plain chain), with
constructor arguments named after the block's parameters, children named after the spec's
entries, and a straight-line forward. `build()` executes exactly this text, so what a user
reads with `archc compile -o model.py` is what runs. The output is deterministic.
"""

from __future__ import annotations

import ast as pyast
import inspect
import keyword
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archc.backends.layout import fit
from archc.errors import ArchcError
from archc.expr.nodes import Expr
from archc.expr.printer import Python, python, python_literal
from archc.gcpause import without_collector
from archc.ir import Boundary, Module, Network, Node, Path, same
from archc.ops import OPS
from archc.ops.init import initializer_lines
from archc.ops.registry import Construct, is_static

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


def camel(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    text = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not text or text[0].isdigit():
        text = "Block" + text
    return text


def identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


# ------------------------------------------------------------------ templates with holes


@dataclass(frozen=True)
class Hole:
    """A value in a class body that may differ between instances of the class."""

    index: int


@dataclass
class Template:
    """Code with holes: `parts` alternate text and Hole markers."""

    parts: list[str | Hole] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    meta: list[HoleMeta] = field(default_factory=list)

    def text(self, code: str) -> None:
        self.parts.append(code)

    def hole(self, value: Any, meta: HoleMeta) -> None:
        self.parts.append(Hole(len(self.values)))
        self.values.append(value)
        self.meta.append(meta)

    def key(self) -> tuple[Any, ...]:
        return tuple(p if isinstance(p, str) else "\0" for p in self.parts)


@dataclass(frozen=True)
class HoleMeta:
    """Where a hole came from: the attribute it fills, whether shape inference set it, and the
    spec expression it was written as when that only uses the class's parameters."""

    owner: str  # child attribute path, for fallback parameter names
    attr: str
    inferred: bool
    expr: str | None = None
    uses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, owner: str, attr: str, inferred: bool, code: Python | None) -> HoleMeta:
        """The hole's metadata with the expression it was written as, if it has one."""
        if code is None:
            return cls(owner, attr, inferred)
        return cls(owner, attr, inferred, code.text, code.uses)


def parameter_code(expr: Expr, params: set[str], channels: Python | None = None,
                   constants: Mapping[str, Any] | None = None) -> Python | None:
    """The spec expression as Python over a class's `params` (and `in.c` as `channels`, the
    incoming channel count as code), or None if it needs anything else (loop variables, other
    shape attributes). Spec-level parameters (`constants`) are fixed for the whole network, so
    they are written as their values: `planes * expansion` becomes `planes * 4`."""
    fixed = constants or {}

    def resolve(name: str) -> Python | None:
        if name == "in.c":
            return channels
        if name in params:
            return Python(name, frozenset({name}))
        value = fixed.get(name)
        return Python.value(value) if isinstance(value, (int, float, str)) else None

    return python(expr, resolve)


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
    init: Template | None = None
    forward: list[str] = field(default_factory=list)
    class_name: str = ""
    call: list[tuple[str, Any]] = field(default_factory=list)  # constructor (param, value)
    defaults: dict[str, Any] = field(default_factory=dict)  # the class's parameter defaults


class Generator:
    def __init__(self, network: Network) -> None:
        self.network = network
        self.blocks = network.blocks
        self.instances: dict[Path, ClassInstance] = {}
        self.members = network.members
        self.uses_weights = False
        self.uses_init = False
        self.uses_ordered_dict = False
        self.class_names: set[str] = {"OrderedDict", "with_weights", "initialized", "torch", "nn"}
        self.params: set[str] = set()  # parameters of the class being written
        self.channels: dict[int, Python] = {}  # value -> its channel count as code

    def code(self, expr: Expr, channels: Python | None = None) -> Python | None:
        """A spec expression as Python over the parameters of the class being written."""
        return parameter_code(expr, self.params, channels, self.network.params)

    # -- units of a module: its direct children and its own functional nodes
    def units(self, module: Module) -> list[tuple[str, list[int]]]:
        depth = len(module.path)
        groups: dict[str, list[int]] = {}
        for node_id in self.members.get(module.path, []):
            node = self.network.node(node_id)
            owner = node.module if node.module is not None else node.scope
            key = owner[depth] if len(owner) > depth else f"\0{node_id}"
            groups.setdefault(key, []).append(node_id)
        return list(groups.items())

    def is_chain(self, module: Module) -> bool:
        """Children applied one after the other, nothing else: an nn.Sequential."""
        units = self.units(module)
        if not units or module.kind == "root":
            return False
        whole = self.network.module_boundary(module.path)
        if len(whole.reads) != 1 or len(whole.gives) != 1:
            return False
        current = whole.reads[0]
        for key, nodes in units:
            if key.startswith("\0"):
                return False
            unit = self.network.boundary(nodes)
            if unit.reads != (current,) or len(unit.gives) != 1:
                return False
            current = unit.gives[0]
        return current == whole.gives[0]

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
            chain = module.kind == "block" and self.is_chain(module)
            self.instances[path] = ClassInstance(module, family, chain, in_channels)

    # -- constructor expressions
    def child_expression(self, path: Path, template: Template, owner: str) -> None:
        module = self.network.modules[path]
        if path in self.instances:
            instance = self.instances[path]
            assert instance.class_name, f"{path} used before its class was made"
            template.text(instance.class_name + "(")
            reads = self.network.module_boundary(path).reads
            defaults = instance.defaults
            skipped = False
            for i, (param, value) in enumerate(instance.call):
                if param in defaults and same(defaults[param], value):
                    skipped = True
                    continue
                template.text(", " if i else "")
                if skipped:
                    template.text(f"{param}=")
                if param == "in_channels":
                    known = self.channels.get(reads[0]) if len(reads) == 1 else None
                else:
                    source = module.sources.get(param)
                    known = None if source is None else self.code(source)
                template.hole(value, HoleMeta.of(owner, param, param == "in_channels", known))
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
        # an argument written in the spec stays in the code even at its default value, so that
        # instances of one block share one class (stride=stride, whatever its value)
        present = {name for name, _ in construct.kwargs} | {name for name, _ in construct.tensors}
        positional_attrs = set(construct.arg_names)
        written = [(name, node.attrs[name]) for name in node.sources
                   if name not in present and name not in positional_attrs
                   and not (op.attr(name) and op.attr(name).keyword_only)]  # type: ignore[union-attr]
        order = {a.name: i for i, a in enumerate(op.attrs)}
        kwargs = sorted([*construct.kwargs, *written], key=lambda kv: order.get(kv[0], len(order)))
        construct = Construct(construct.callee, construct.args, tuple(kwargs), construct.tensors,
                              construct.arg_names, construct.init)
        if construct.init is not None:
            self.uses_init = True
            template.text("initialized(")
        if construct.tensors:
            self.uses_weights = True
            template.text("with_weights(")
        template.text(construct.callee + "(")
        inferred = {a.name for a in op.attrs if a.inferred}
        names = construct.arg_names or tuple(f"arg{i}" for i in range(len(construct.args)))
        for i, (name, value) in enumerate(zip(names, construct.args, strict=True)):
            template.text(", " if i else "")
            template.hole(value, self.hole_meta(node, owner, name, name in inferred, value))
        for i, (name, value) in enumerate(construct.kwargs):
            template.text((", " if i or construct.args else "") + f"{name}=")
            template.hole(value, self.hole_meta(node, owner, name, False, value))
        template.text(")")
        for name, value in construct.tensors:
            template.text(f", {name}=")
            template.hole(value, HoleMeta(owner, name, False))
            template.text(")")
        if construct.init is not None:
            template.text(", ")
            template.hole(construct.init, self.hole_meta(node, owner, "init", False,
                                                         construct.init))
            template.text(")")

    def hole_meta(self, node: Node, owner: str, attr: str, inferred: bool,
                  value: Any) -> HoleMeta:
        known: Python | None = None
        if inferred:
            source = self.network.node(node.inputs[0]).shape
            if len(source) > 1 and same(source[1], value):
                known = self.channels.get(node.inputs[0])
        elif attr in node.sources:
            known = self.code(node.sources[attr], self.channels.get(node.inputs[0]))
        return HoleMeta.of(owner, attr, inferred, known)

    def track_channels(self, instance: ClassInstance) -> None:
        """Follow the channel count through a block's nodes as code over its parameters, so
        inferred sizes read `out` or `c2[0]` instead of a number."""
        module = instance.module
        info = self.blocks.get(module.block or "")
        self.params = set(info.params) if info else set()
        self.channels = {}
        reads = self.network.boundary(self.members.get(module.path, [])).reads
        if module.kind == "block" and len(reads) == 1:
            self.channels[reads[0]] = Python("in_channels", frozenset({"in_channels"}))
        depth = len(module.path)
        for node_id in self.members.get(module.path, []):
            node = self.network.node(node_id)
            owner = node.module if node.module is not None else node.scope
            # the outermost class instance below this module that holds the node, if any
            inside = next((owner[:end] for end in range(depth + 1, len(owner) + 1)
                           if owner[:end] in self.instances), None)
            channels = node.shape[1] if len(node.shape) > 1 else None
            if inside is not None:
                sources = self.network.modules[inside].sources
                candidates = [(name, e) for name, e in sources.items()]
                for name, expr in candidates:
                    if same(self.network.modules[inside].args.get(name), channels):
                        known = self.code(expr)
                        if known:
                            self.channels[node_id] = known
                            break
                continue
            incoming = self.channels.get(node.inputs[0]) if len(node.inputs) == 1 else None
            for attr, expr in node.sources.items():
                if same(node.attrs.get(attr), channels):
                    known = self.code(expr, incoming)
                    if known:
                        self.channels[node_id] = known
                        break
            else:
                source = self.network.node(node.inputs[0]).shape if len(node.inputs) == 1 else None
                if source is not None and len(source) > 1 and source[1] == channels and incoming:
                    self.channels[node_id] = incoming

    def sequential_expression(self, module: Module, template: Template, owner: str) -> None:
        named = any(child != str(i) for i, child in enumerate(module.children))
        self.uses_ordered_dict |= named
        template.text("nn.Sequential(" + ("OrderedDict([" if named else ""))
        for i, child in enumerate(module.children):
            template.text(", " if i else "")
            template.text(f"({child!r}, " if named else "")
            self.child_expression((*module.path, child), template, f"{owner}_{child}")
            template.text(")" if named else "")
        template.text(("])" if named else "") + ")")

    def build_template(self, instance: ClassInstance) -> None:
        module = instance.module
        self.track_channels(instance)
        init = Template()
        indent = "\n        "
        if instance.chain:
            named = any(child != str(i) for i, child in enumerate(module.children))
            self.uses_ordered_dict |= named
            init.text("super().__init__(" + ("OrderedDict([" if named else ""))
            for child in module.children:
                init.text(indent + "    " + (f"({child!r}, " if named else ""))
                self.child_expression((*module.path, child), init, child)
                init.text(")," if named else ",")
            init.text(indent + ("])" if named else "") + ")")
        else:
            init.text("super().__init__()")
            for child in module.children:
                if identifier(child):
                    init.text(f"{indent}self.{child} = ")
                    self.child_expression((*module.path, child), init, child)
                else:
                    init.text(f"{indent}self.add_module({child!r}, ")
                    self.child_expression((*module.path, child), init, f"layer{child}")
                    init.text(")")
            instance.forward = self.forward(module)
        instance.init = init

    # -- forward
    def forward(self, module: Module) -> list[str]:
        """The body of a class's forward: one statement per child module or functional node,
        in the network's order, ending in the return."""
        units = self.units(module)
        reads, gives = self.io(module)
        state = ForwardNames(dict(zip(reads, self.argument_names(module), strict=True)))
        unit_io = [self.network.boundary(nodes) for _, nodes in units]
        schedule = self.schedule(units, unit_io, gives)
        lines = self.statements(units, unit_io, schedule, state)
        returned = ", ".join(state.names[g] for g in gives)
        if lines and len(gives) == 1 and lines[-1].startswith(f"{returned} = "):
            lines[-1] = "return " + lines[-1][len(returned) + 3:]
        else:
            lines.append(f"return {returned}")
        return lines

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
        alias makes no line, its expression standing in wherever its value is read."""
        lines = []
        for index, ((key, nodes), unit) in enumerate(zip(units, unit_io, strict=True)):
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
        return lines

    def unit_expression(self, key: str, nodes: list[int], reads: tuple[int, ...],
                        names: dict[int, str]) -> str:
        """What one unit computes, over the names of its inputs: a child module called on
        them, or a functional node's expression (its op's `function`)."""
        if key.startswith("\0"):
            node = self.network.node(nodes[0])
            op = OPS[node.op]
            assert op.function is not None
            return op.function(node.attrs, [names[i] for i in node.inputs])
        accessor = f"self.{key}" if identifier(key) else f"getattr(self, {key!r})"
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
        hint = node.name or (key if identifier(key) else node.op)
        return self._fresh(hint, state.taken)

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
        return [self._fresh(self.value_name(r), taken) for r in reads]

    def value_name(self, node_id: int) -> str:
        """A variable name for a value: the name of the entry it is the output of."""
        node = self.network.node(node_id)
        if node.name:
            return node.name
        path = node.module if node.module is not None else node.scope
        while path:
            members = self.members.get(path, [])
            if not members or max(members) != node_id:
                break
            if identifier(path[-1]):
                return path[-1]
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
        that builds it."""
        first = group[0]
        info = self.blocks.get(first.family) if first.module.kind == "block" else None
        params, doc = (info.params, info.doc) if info else ([], None)
        defaults = info.defaults if info else {}
        codes, used, extra = self.hole_codes(group, params)
        signature, required = self.signature(params, used, extra, defaults)
        self.bind_instances(group, class_name, signature, extra,
                            {name: defaults[name] for name in signature[required:]})
        rendered = [name if i < required else f"{name}={python_literal(defaults[name])}"
                    for i, name in enumerate(signature)]
        return self.class_lines(first, class_name, rendered, codes, doc)

    @staticmethod
    def candidates(group: list[ClassInstance], params: list[str],
                   ) -> list[tuple[str, list[Any], str]]:
        """Code that may stand for a hole whose value differs between the instances, with
        each instance's value of it and the parameter it reads: in_channels, each parameter
        of the block, and each item of a list parameter (`c2[0]`)."""
        first = group[0]
        candidates: list[tuple[str, list[Any], str]] = []
        if first.module.kind == "block" and first.in_channels is not None:
            candidates.append(("in_channels", [i.in_channels for i in group], "in_channels"))
        for name in params:
            values = [inst.module.args.get(name) for inst in group]
            candidates.append((name, values, name))
            lists = [v for v in values if isinstance(v, list)]
            if len(lists) == len(values):
                for k in range(min(len(v) for v in lists)):
                    candidates.append((f"{name}[{k}]", [v[k] for v in lists], name))
        return candidates

    def hole_codes(self, group: list[ClassInstance], params: list[str],
                   ) -> tuple[list[str], set[str], list[tuple[str, list[Any]]]]:
        """The code of each hole of the group's template, the parameters that code reads, and
        the new constructor parameters (with each instance's value) for the holes no shared
        code fills."""
        first = group[0]
        assert first.init is not None
        candidates = self.candidates(group, params)
        used: set[str] = set()
        extra: list[tuple[str, list[Any]]] = []
        codes: list[str] = []
        for index, meta in enumerate(first.init.meta):
            values = [inst.init.values[index] for inst in group]  # type: ignore[union-attr]
            metas = [inst.init.meta[index] for inst in group]  # type: ignore[union-attr]
            shared = self.shared_code(metas, values, candidates)
            if shared is None:
                base = re.sub(r"\W+", "_", f"{meta.owner}_{meta.attr}").strip("_")
                name = self._fresh(base, {e for e, _ in extra} | set(params) | {"in_channels"})
                extra.append((name, values))
                shared = name, frozenset()
            codes.append(shared[0])
            used |= shared[1]
        return codes, used, extra

    @staticmethod
    def shared_code(metas: list[HoleMeta], values: list[Any],
                    candidates: list[tuple[str, list[Any], str]],
                    ) -> tuple[str, frozenset[str]] | None:
        """Code one class body can hold for a hole's values in every instance, and the
        parameters it reads: the expression the spec wrote, when all wrote the same; else a
        candidate that holds exactly these values (not for booleans: a flag equal to a
        parameter by chance is not that parameter); else the literal they all share."""
        constant = all(same(v, values[0]) for v in values)
        if metas[0].expr is not None and all(m.expr == metas[0].expr for m in metas):
            return metas[0].expr, metas[0].uses
        if not constant and not isinstance(values[0], bool):
            for text, candidate_values, root in candidates:
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
                       extra: list[tuple[str, list[Any]]], defaults: dict[str, Any]) -> None:
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

    def class_lines(self, first: ClassInstance, class_name: str, signature: list[str],
                    codes: list[str], doc: str | None) -> list[str]:
        """The class's source: its docstring, its __init__ (the template with its holes
        filled by `codes`) and, unless it is an nn.Sequential, its forward."""
        assert first.init is not None
        body = "".join(p if isinstance(p, str) else codes[p.index] for p in first.init.parts)
        base = "nn.Sequential" if first.chain else "nn.Module"
        lines = [f"class {class_name}({base}):"]
        if doc:
            lines += [*docstring(doc, "    "), ""]
        code = [f"    def __init__({', '.join(['self', *signature])}) -> None:",
                *("        " + body).split("\n")]
        if first.forward:
            arguments = ", ".join(f"{a}: torch.Tensor" for a in self.argument_names(first.module))
            count = len(self.io(first.module)[1])
            returns = "torch.Tensor" if count == 1 else (
                "tuple[" + ", ".join(["torch.Tensor"] * count) + "]")
            code += ["", f"    def forward(self, {arguments}) -> {returns}:"]
            code += ["        " + line for line in first.forward]
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
                groups: dict[tuple[Any, ...], list[ClassInstance]] = {}
                for inst in members:
                    self.build_template(inst)
                    assert inst.init is not None
                    key = (inst.chain, inst.init.key(), tuple(inst.forward))
                    groups.setdefault(key, []).append(inst)
                for group in groups.values():
                    classes.append(self.resolve_class(group, self._class_name(group[0])))
                for inst in members:
                    done.add(inst.module.path)
                    above = parent[inst.module.path]
                    if above is not None:
                        waiting[above] -= 1
            pending = [i for i in pending if i.module.path not in done]
        return self.render(classes)

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

    def render(self, classes: list[list[str]]) -> str:
        doc = f"{self.network.name}: {self.network.doc}" if self.network.doc else self.network.name
        lines = [*docstring(f"{doc}\n\nGenerated by archc from its spec; edit the spec, not "
                            "this file.", ""), ""]
        if self.uses_ordered_dict:
            lines += ["from collections import OrderedDict", ""]
        lines += ["import torch", "from torch import nn"]
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
        for class_lines in classes:
            lines += ["", "", *class_lines]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Source:
    """Generated source and the name of the class that is the whole network."""

    text: str
    class_name: str


@without_collector
def generate_source(network: Network) -> Source:
    """IR network → the source text of a standalone PyTorch module (deterministic)."""
    generator = Generator(network)
    text = generator.generate()
    try:  # the text is run by build and written by compile: it must be the Python it claims
        pyast.parse(text)
    except SyntaxError as error:
        raise ArchcError("archc generated source that is not valid Python: this is a bug in "
                         "archc; please report it with the spec", network.modules[()].span,
                         found=f"line {error.lineno}: {error.msg}") from None
    return Source(text, generator.instances[()].class_name)
