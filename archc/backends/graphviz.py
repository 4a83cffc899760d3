"""IR network → a diagram: Graphviz DOT, and SVG, PNG or PDF rendered by the `dot` program.

Input: an elaborated `Network` (static shapes, module tree). Output: a `graphviz.Digraph`
(which renders inline in Jupyter) and files. Drawn from the static graph with the spec's own
names, no tensor run and no torch import:

- op nodes show the op and its key attributes (`conv 3x3 /2, 64`), the user's name and the
  parameter count; merges are small nodes of their own; inputs and outputs are distinct nodes;
  identity is a name for its input and is not drawn;
- every tensor is one wire labelled with its shape (`N×64×56×56`), drawn once: a tensor read
  by several nodes goes to a small split point first;
- blocks and named containers are clusters labelled with their path (`layer2.0: basic`);
  `depth` draws modules at that level as one node (the block call and its parameter count);
- consecutive identical block instances (same definition, arguments and input shape, each
  feeding the next) are drawn once, marked ×N; with `depth`, conv/norm/activation chains fold
  into one node whose label names each folded op (`conv 3x3, 64 + bn + relu`);
- fills follow the op's role (`Role`), all light, so every label reads in greyscale; node and
  cluster names are module paths and everything is emitted in graph order, so the DOT text
  is deterministic and diffs cleanly.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import graphviz

from archc.errors import ArchcError
from archc.files import atomic_write
from archc.format import human
from archc.ir import Module, Network, Node, Path
from archc.ops import OPS
from archc.ops.registry import Role, Shape

FORMATS = {".svg": "SVG", ".png": "PNG", ".pdf": "PDF", ".dot": "DOT"}
DIRECTIONS = ("TB", "LR")
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu) or "
                "`brew install graphviz` (macOS); `-o NAME.dot` writes the DOT text without it")

PNG_DPI = 144
FONT = "Helvetica,Arial,sans-serif"
INK = "#404040"  # borders, edges
MUTED = "#5a5a5a"  # second lines, shapes on wires
# light fills with distinct hues; black text reads on each, in colour and in greyscale
FILLS = {
    Role.CONVOLUTION: "#c6dbef",
    Role.LINEAR: "#d4cde6",
    Role.NORMALISER: "#fbf0c0",
    Role.ACTIVATION: "#d5ecd0",
    Role.POOL: "#fbd5b5",
    Role.MERGE: "#e3e3e3",
    Role.RESHAPE: "#f2f2f2",
    Role.RESIZE: "#cfe8e4",
    Role.DROPOUT: "#f6d8e6",
    Role.SCALE: "#e6dcc8",
    Role.ATTENTION: "#f4c9c0",
    Role.EMBEDDING: "#dfe9c4",
    Role.IDENTITY: "white",  # a name for its input: never drawn
}
# what sets a role's nodes apart beyond the fill: merges are small points where branches meet
NODE_STYLES: dict[Role, dict[str, str]] = {
    Role.MERGE: {"shape": "ellipse", "fontsize": "9", "margin": "0.03,0.01", "height": "0.22"},
}
CLUSTER_FILLS = ("#f6f6f6", "#ececec")  # alternate with nesting so nested blocks stay apart
TERMINAL = {"shape": "box", "style": "filled", "fillcolor": INK, "fontcolor": "white"}


def format_dims(shape: Shape) -> str:
    """`N×64×56×56`: the shape a wire carries."""
    return "×".join(str(d) for d in shape)  # a symbol (the batch N) by its name


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _small(value: str) -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{MUTED}">{_text(value)}</FONT>'


def _lines(lines: list[str]) -> str:
    """One line as it is; several as a borderless table (a little air between the lines)."""
    if len(lines) == 1:
        return lines[0]
    rows = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="0">{rows}</TABLE>'


def _params(count: int) -> str:
    return f"{human(count)} params"


def _passes_through(node: Node) -> bool:
    """Identity and its like: a function whose expression is its argument (no module, no op)."""
    if node.is_input:
        return False
    return OPS[node.op].passthrough


@dataclass
class _Cluster:
    label: str
    fill: str
    block: bool
    entries: list[tuple[str, Any]] = field(default_factory=list)  # ("node", id) | ("cluster", key)


@dataclass
class _Drawn:
    """One drawn node: its DOT attributes, the cluster it sits in and its output tensor."""

    id: str
    cluster: Path
    attrs: dict[str, str]
    head: list[str]  # the label's lines, HTML
    notes: list[str]  # the label's small last line, joined with " · "
    tensor: int | None  # its output while no wire leaves it: the label then shows the shape
    module: bool = False  # a module drawn as one node: its output shape is always written


class Diagram:
    """The drawing of one network: built once, emitted as a `graphviz.Digraph`."""

    def __init__(self, network: Network, depth: int | None = None, direction: str = "TB",
                 collapse: bool = True) -> None:
        if direction not in DIRECTIONS:
            raise ArchcError(f"unknown direction {direction!r}", expected=" or ".join(DIRECTIONS),
                             found=direction)
        if depth is not None and depth < 1:
            raise ArchcError("depth must be at least 1", found=str(depth))
        self.network = network
        self.depth = depth
        self.direction = direction
        self.collapse = collapse
        self.fold = depth is not None
        self.members = network.members
        self.ident = self._identifiers()
        self.ident_names = set(self.ident.values())
        self.rep: dict[int, str] = {}  # IR node → the drawn node it is part of
        self.instance: dict[int, list[tuple[Path, int]]] = {}  # IR node → its (×N run, index)s
        self.drawn: dict[str, _Drawn] = {}
        self.clusters: dict[Path, _Cluster] = {
            (): _Cluster("", "white", False),
        }
        self._build()

    # ------------------------------------------------------------------ names

    def _identifiers(self) -> dict[int, str]:
        """A unique, stable name per IR node: its module path (diff-friendly DOT)."""
        names: dict[int, str] = {}
        taken: set[str] = set()
        for node in self.network.nodes():
            base = f"input/{node.attrs.get('name', node.id)}" if node.is_input else node.path
            name, count = base, 1
            while name in taken:
                count += 1
                name = f"{base}#{count}"
            taken.add(name)
            names[node.id] = name
        return names

    def resolve(self, node_id: int) -> int:
        """The tensor a node's input really is: identity is a name for its input."""
        node = self.network.node(node_id)
        while _passes_through(node):
            node = self.network.node(node.inputs[0])
        return node.id

    # ------------------------------------------------------------------ the module tree

    def _visible(self, nodes: Iterable[int]) -> list[int]:
        return [n for n in nodes if not _passes_through(self.network.node(n))]

    def _entries(self, path: Path) -> list[tuple[int, Path | int]]:
        """What a module holds, in graph order: child modules and its own functional nodes."""
        network = self.network
        module = network.modules[path]
        entries: list[tuple[int, Path | int]] = []
        for child in module.children:
            child_path = (*path, child)
            nodes = self.members.get(child_path, [])
            if self._visible(nodes):
                entries.append((min(nodes), child_path))
        for node_id in self.members.get(path, []):
            node = network.node(node_id)
            if node.module is None and node.scope == path and not _passes_through(node):
                entries.append((node_id, node_id))
        entries.sort(key=lambda e: e[0])
        return entries

    def _same_instance(self, first: Path, before: Path, after: Path) -> bool:
        """`after` repeats `first` and reads only the output of `before` (a ×N run)."""
        network = self.network
        a, b = network.modules[first], network.modules[after]
        if not (a.kind == b.kind == "block" and a.block == b.block and a.args == b.args):
            return False
        nodes_a, nodes_b = self.members[first], self.members[after]
        if len(nodes_a) != len(nodes_b):
            return False
        for x, y in zip(nodes_a, nodes_b, strict=True):
            p, q = network.node(x), network.node(y)
            if (p.op, p.attrs, p.shape) != (q.op, q.attrs, q.shape):
                return False
        shapes_a = [network.node(u).shape for u in network.boundary(nodes_a).reads]
        shapes_b = [network.node(u).shape for u in network.boundary(nodes_b).reads]
        if shapes_a != shapes_b:
            return False
        previous = self.members[before]
        inside_before, inside_after = set(previous), set(nodes_b)
        if list(network.boundary(nodes_b).reads) != [network.boundary(previous).output]:
            return False
        outputs = network.output_ids
        return not any(n in outputs for n in previous) and all(
            c in inside_before or c in inside_after
            for n in previous for c in network.consumers(n))

    def _units(self, path: Path) -> list[tuple[str, list[Any]]]:
        """A module's entries grouped: ("run", [paths]) for modules (×N when several),
        ("ops", [node ids]) for op nodes (several when a conv/norm/activation chain folds)."""
        units: list[tuple[str, list[Any]]] = []
        for _, item in self._entries(path):
            if isinstance(item, tuple) and self.network.modules[item].kind != "op":
                last = units[-1] if units else None
                if (self.collapse and last is not None and last[0] == "run"
                        and self._same_instance(last[1][0], last[1][-1], item)):
                    last[1].append(item)
                else:
                    units.append(("run", [item]))
                continue
            node_id = item if isinstance(item, int) else self.network.modules[item].node
            assert node_id is not None
            units.append(("ops", [node_id]))
        return self._fold(units) if self.fold else units

    def _fold(self, units: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
        """Fold chains of foldable ops, each reading only the one before (which nothing else
        reads): conv [norm] [activation] when the chain starts with a conv or linear,
        [norm] [activation] conv when it starts with the normalisation (pre-activation)."""
        folded: list[tuple[str, list[Any]]] = []
        chain: list[int] = []
        for kind, items in [*units, ("end", [])]:
            node_id = items[0] if kind == "ops" else None
            if node_id is not None and self._folds(node_id) and (
                    not chain or self._linked(chain[-1], node_id)):
                chain.append(node_id)
                continue
            folded.extend(("ops", group) for group in self._segment(chain))
            chain = []
            if node_id is not None and self._folds(node_id):
                chain = [node_id]
            elif kind != "end":
                folded.append((kind, items))
        return folded

    def _role(self, node_id: int) -> Role:
        return OPS[self.network.node(node_id).op].role

    def _folds(self, node_id: int) -> bool:
        return self._role(node_id).fold_stage is not None

    def _segment(self, chain: list[int]) -> list[list[int]]:
        """Cut a chain of foldable ops into folds; norm/activation no conv completes stay
        single."""
        groups: list[list[int]] = []
        group: list[int] = []
        pre = bool(chain) and not self._role(chain[0]).weighted
        for node_id in chain:
            role = self._role(node_id)
            if pre:
                if role.weighted:
                    groups.append([*group, node_id])
                    group = []
                elif self._fits([*(self._role(n) for n in group), role]):
                    group.append(node_id)
                else:
                    groups.extend([n] for n in group)
                    group = [node_id]
            elif role.weighted:
                if group:
                    groups.append(group)
                group = [node_id]
            elif group and self._fits([*(self._role(n) for n in group[1:]), role]):
                group.append(node_id)
            else:
                if group:
                    groups.append(group)
                group = []
                groups.append([node_id])
        if group and pre:
            groups.extend([n] for n in group)
        elif group:
            groups.append(group)
        return groups

    @staticmethod
    def _fits(roles: list[Role]) -> bool:
        """The ops after the weighted one (or before it, pre-activation) in fold order, each
        stage at most once: at most one normalisation then at most one activation."""
        stages = [role.fold_stage or 0 for role in roles]  # 0: weighted, or never folds
        return all(stage > 0 for stage in stages) and stages == sorted(set(stages))

    def _linked(self, previous: int, node_id: int) -> bool:
        network = self.network
        node = network.node(node_id)
        return [self.resolve(i) for i in node.inputs] == [previous] and \
            self._readers(previous) == [node_id] and \
            not any(self.resolve(i) == previous for _, i in network.outputs)

    def _readers(self, node_id: int) -> list[int]:
        """The nodes reading a tensor, seen through identity."""
        readers: list[int] = []
        for consumer in self.network.consumers(node_id):
            if _passes_through(self.network.node(consumer)):
                readers.extend(self._readers(consumer))
            else:
                readers.append(consumer)
        return readers

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        network = self.network
        for name, node_id in network.inputs.items():
            head = "input" if len(network.inputs) == 1 and name == "x" else name
            self._add(f"input/{name}", (), node_id, [f"<B>{_text(head)}</B>"], [],
                      dict(TERMINAL), [node_id])
        self._visit((), ())
        for name, _ in network.outputs:
            self._add(f"output/{name}", (), None, [f"<B>{_text(name)}</B>"], [], dict(TERMINAL),
                      [])
        for name, _ in self.training_outputs():  # returned while training only: dashed
            self._add(f"output/{name}", (), None, [f"<B>{_text(name)}</B>", "training"], [],
                      {**TERMINAL, "style": "filled,dashed", "fillcolor": "#707070"}, [])
        self.wires = self._wires()
        self.splits: dict[int, tuple[str, Path]] = {}  # tensor → (split point, its cluster)
        taken: set[str] = set()  # the split points' names (a set: residual nets have thousands)
        for tensor, source, targets in self.wires:
            if len(targets) > 1:
                name = f"split/{source}"
                while name in taken:
                    name += "'"
                taken.add(name)
                self.splits[tensor] = (name, self._split_cluster(targets))
        self.split_places = dict(self.splits.values())  # split point → its cluster
        self.splits_in: dict[Path, list[str]] = {}  # cluster → its split points, in order
        for split, place in self.splits.values():
            self.splits_in.setdefault(place, []).append(split)

    def _add(self, drawn_id: str, cluster: Path, tensor: int | None, head: list[str],
             notes: list[str], attrs: dict[str, str], nodes: Iterable[int]) -> None:
        self.drawn[drawn_id] = _Drawn(drawn_id, cluster, attrs, head, notes, tensor)
        self.clusters[cluster].entries.append(("node", drawn_id))
        for node_id in nodes:
            self.rep[node_id] = drawn_id

    def _visit(self, path: Path, cluster: Path) -> None:
        for kind, items in self._units(path):
            if kind == "ops":
                self._ops(items, cluster)
            else:
                self._module_run(items, cluster)

    def _ops(self, nodes: list[int], cluster: Path) -> None:
        network = self.network
        first = network.node(nodes[0])
        role = OPS[first.op].role
        parts, names = [], []
        for node_id in nodes:
            node = network.node(node_id)
            key = OPS[node.op].key(node.attrs)
            parts.append(f"<B>{_text(node.op)}</B>" + (f" {_text(key)}" if key else ""))
            if node.name is not None and node.name != node.op:
                names.append(node.name)
        weighted = [n for n in nodes if OPS[network.node(n).op].role.weighted]
        if weighted:  # a fold is drawn as the op it is built around
            role = OPS[network.node(weighted[0]).op].role
        params = sum(network.counts[n].params for n in nodes)
        notes = [", ".join(names)] if names else []
        if params:
            notes.append(_params(params))
        attrs = {"fillcolor": FILLS[role], **NODE_STYLES.get(role, {})}
        self._add(self.ident[nodes[0]], cluster, nodes[-1], [" + ".join(parts)], notes, attrs,
                  nodes)

    def _module_run(self, paths: list[Path], cluster: Path) -> None:
        network = self.network
        first = paths[0]
        module = network.modules[first]
        count = len(paths)
        label = _run_path(paths)
        nodes = [n for p in paths for n in self.members[p]]
        if count > 1:
            for index, path in enumerate(paths):
                for node_id in self.members[path]:
                    self.instance.setdefault(node_id, []).append((first, index))
        params = sum(network.counts[n].params for n in self.members[first])
        times = f" ×{count}" if count > 1 else ""
        if self.depth is not None and len(first) >= self.depth:
            call = network.label(module) if module.kind == "block" else \
                self._summary(module)
            head = [f"<B>{_text(label)}</B>{times}", _text(call)]
            notes = [(f"{count} × " if count > 1 else "") + _params(params)] if params else []
            name = ".".join(first)
            if name in self.drawn or name in self.ident_names:
                name += "#module"
            self._add(name, cluster, network.boundary(nodes).output, head, notes,
                      {"style": "filled,bold", "fillcolor": "white"}, nodes)
            self.drawn[name].module = True
            return
        title = f"{label}: {module.block}{times}" if module.kind == "block" else label
        if params and module.kind == "block":
            title += f"  ·  {(f'{count} × ') if count > 1 else ''}{_params(params)}"
        outer = self.clusters[cluster].fill
        fill = outer if module.kind != "block" else CLUSTER_FILLS[0] if outer != CLUSTER_FILLS[0] \
            else CLUSTER_FILLS[1]  # a container shows through; nested blocks alternate
        self.clusters[first] = _Cluster(title, fill, module.kind == "block")
        self.clusters[cluster].entries.append(("cluster", first))
        self._visit(first, first)
        for path in paths[1:]:  # later instances are drawn as the first one
            for mine, theirs in zip(self.members[first], self.members[path], strict=True):
                if mine in self.rep:
                    self.rep[theirs] = self.rep[mine]

    def _summary(self, module: Module) -> str:
        """A collapsed container: its children in order with repeats counted (`inception ×5 ·
        maxpool 3x3 /2`); when that is long, its blocks counted and its ops (`dense_block ×4 ·
        transition ×3 · 6 ops`)."""
        network = self.network
        words: list[tuple[str, bool]] = []  # (word, is a block or container)
        for child in module.children:
            sub = network.modules[(*module.path, child)]
            if not self._visible(self.members.get(sub.path, [])):
                continue
            if sub.kind == "op":
                words.append((network.label(sub), False))
            else:
                words.append((sub.block or child, True))
        groups: list[tuple[str, int]] = []
        for word, _ in words:
            if groups and groups[-1][0] == word:
                groups[-1] = (word, groups[-1][1] + 1)
            else:
                groups.append((word, 1))
        if len(groups) > 4:
            counts: dict[str, int] = {}
            for word, nested in words:
                if nested:
                    counts[word] = counts.get(word, 0) + 1
            ops = sum(not nested for _, nested in words)
            groups = list(counts.items())
            if ops:
                groups.append((f"{ops} op{'s' if ops > 1 else ''}", 1))
        return " · ".join(w + (f" ×{n}" if n > 1 else "") for w, n in groups)

    # ------------------------------------------------------------------ wires

    def _wires(self) -> list[tuple[int, str, list[str]]]:
        """(tensor, drawn source, drawn readers) in graph order; one wire per tensor."""
        network = self.network
        readers: dict[int, list[str]] = {}
        for node in network.nodes():
            if node.is_input or _passes_through(node):
                continue
            target = self.rep[node.id]
            for i in node.inputs:
                tensor = self.resolve(i)
                if self.rep[tensor] == target or self._repeated(tensor, node.id):
                    continue
                wire = readers.setdefault(tensor, [])
                if target not in wire:
                    wire.append(target)
        for name, node_id in (*network.outputs, *self.training_outputs()):
            readers.setdefault(self.resolve(node_id), []).append(f"output/{name}")
        wires = []
        for tensor in sorted(readers):
            wires.append((tensor, self.rep[tensor], readers[tensor]))
            self.drawn[self.rep[tensor]].tensor = None
        return wires

    def training_outputs(self) -> list[tuple[str, int]]:
        """The training outputs that are not outputs too (Inception-v3's AuxLogits)."""
        eval_outputs = {n for _, n in self.network.outputs}
        names = {name for name, _ in self.network.outputs}
        return [(name, n) for name, n in self.network.training_outputs
                if n not in eval_outputs and name not in names]

    def _repeated(self, source: int, target: int) -> bool:
        """An edge a ×N run draws once: inside a later instance, or from one to the next."""
        theirs = dict(self.instance.get(target, []))
        return any(run in theirs and (index > 0 or theirs[run] != index)
                   for run, index in self.instance.get(source, []))

    # ------------------------------------------------------------------ DOT

    def graph(self) -> graphviz.Digraph:
        network = self.network
        title = f"<<B>{_text(network.name)}</B>  {_small(_params(network.total_params))}>"
        dot = graphviz.Digraph(
            name=network.name,
            graph_attr={
                "rankdir": self.direction, "fontname": FONT, "fontsize": "12",
                "label": title, "labelloc": "t", "labeljust": "l", "ranksep": "0.28",
                "nodesep": "0.22", "outputorder": "edgesfirst", "bgcolor": "white",
                "newrank": "true", "compound": "true",
            },
            node_attr={
                "shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11",
                "margin": "0.1,0.04", "height": "0.32", "penwidth": "0.8", "color": INK,
            },
            edge_attr={
                "fontname": FONT, "fontsize": "9", "fontcolor": MUTED, "color": INK,
                "arrowsize": "0.6", "penwidth": "0.8",
            },
        )
        self._emit(dot, ())
        edges = self._edges()
        entries: dict[Path, set[str]] = {}  # cluster → the nodes wires from outside enter
        for source, target, _ in edges:
            for cluster in self._entered(source, target):
                entries.setdefault(cluster, set()).add(target)
        for source, target, attrs in edges:
            # a wire into a cluster with one entry ends at its border: it then crosses no
            # cluster title (titles sit top left, where wires enter top to bottom)
            entered = self._entered(source, target)
            if entered and len(entries[entered[0]]) == 1:
                attrs = {**attrs, "lhead": "cluster_" + ".".join(entered[0])}
                attrs.pop("arrowhead", None)  # into a split point: it now points at the border
            dot.edge(source, target, **attrs)
        return dot

    def _edges(self) -> list[tuple[str, str, dict[str, str]]]:
        """The wires as DOT edges: a tensor read twice goes to its split point first."""
        arriving: dict[str, list[Shape]] = {}
        for tensor, _, targets in self.wires:
            for target in targets:
                arriving.setdefault(target, []).append(self.network.node(tensor).shape)
        edges: list[tuple[str, str, dict[str, str]]] = []
        for tensor, source, targets in self.wires:
            shape = self.network.node(tensor).shape
            # a shape is written where it changes: not after bn, relu, add of equal shapes;
            # always after a module drawn as one node (its output shape is part of its summary)
            unchanged = not self.drawn[source].module and bool(arriving.get(source)) and all(
                s == shape for s in arriving[source])
            label = {} if unchanged else {"label": format_dims(shape)}
            if len(targets) == 1:
                edges.append((source, targets[0], label))
                continue
            split = self.splits[tensor][0]
            edges.append((source, split, {"arrowhead": "none", **label}))
            edges.extend((split, target, {}) for target in targets)
        return edges

    def _place(self, name: str) -> Path:
        if name in self.drawn:
            return self.drawn[name].cluster
        return self.split_places[name]

    def _entered(self, source: str, target: str) -> list[Path]:
        """The clusters an edge enters, outermost first."""
        start, end = self._place(source), self._place(target)
        common = 0
        while common < min(len(start), len(end)) and start[common] == end[common]:
            common += 1
        return [end[:k] for k in range(common + 1, len(end) + 1) if end[:k] in self.clusters]

    def _split_cluster(self, targets: list[str]) -> Path:
        paths = [self.drawn[t].cluster for t in targets]
        common: list[str] = []
        for parts in zip(*paths, strict=False):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        while tuple(common) not in self.clusters:
            common.pop()
        return tuple(common)

    def _emit(self, dot: Any, key: Path) -> None:
        for kind, item in self.clusters[key].entries:
            if kind == "node":
                self._emit_node(dot, self.drawn[item])
                continue
            child = self.clusters[item]
            with dot.subgraph(name="cluster_" + ".".join(item)) as sub:
                sub.attr(label=child.label, labeljust="l", fontsize="10", fontcolor=MUTED,
                         margin="10", penwidth="0.8", fillcolor=child.fill,
                         color="#8a8a8a" if child.block else "#a0a0a0",
                         style="rounded,filled" if child.block else "rounded,filled,dashed")
                self._emit(sub, item)
        for split in self.splits_in.get(key, ()):
            dot.node(split, label="", shape="point", width="0.06", height="0.06",
                     style="filled", fillcolor=INK)

    def _emit_node(self, dot: Any, drawn: _Drawn) -> None:
        notes = list(drawn.notes)
        if drawn.tensor is not None:  # nothing reads it: its shape has no wire to sit on
            notes.insert(0, format_dims(self.network.node(drawn.tensor).shape))
        lines = [*drawn.head, _small(" · ".join(notes))] if notes else drawn.head
        dot.node(drawn.id, label=f"<{_lines(lines)}>", **drawn.attrs)


def _run_path(paths: list[Path]) -> str:
    """`layer1.1` or, for a run, `layer1.1–2`."""
    first = ".".join(paths[0])
    if len(paths) == 1:
        return first
    return f"{first}–{paths[-1][-1]}"


# drawn nodes Graphviz lays out in seconds: its layout grows faster than the nodes (residual
# blocks, 2 cores: 1,350 nodes 2 s, 2,700 nodes 13 s, 5,400 nodes 51 s, 27,000 out of memory)
MAX_LAID_OUT = 1_500


def diagram(network: Network, depth: int | None = None, direction: str = "TB",
            collapse: bool = True, laid_out: bool = True) -> graphviz.Digraph:
    """The network as a `graphviz.Digraph` (see the module docstring for what is drawn).
    One to be laid out (rendered, or shown in Jupyter) of more than MAX_LAID_OUT nodes is
    refused before anything is laid out; `laid_out=False` for DOT text that is only written."""
    drawing = Diagram(network, depth, direction, collapse)
    if laid_out and len(drawing.drawn) > MAX_LAID_OUT:
        raise _too_large(drawing, MAX_LAID_OUT)
    return drawing.graph()


def _too_large(drawing: Diagram, limit: int) -> ArchcError:
    """What to draw instead: the node counts at the shallower depths, and collapsed."""
    network = drawing.network
    hints = []
    deepest = max((len(path) for path in network.modules), default=0)
    for depth in range(1, min(drawing.depth or deepest, deepest, 3) + 1):
        if depth == drawing.depth:
            break
        count = len(Diagram(network, depth, drawing.direction, drawing.collapse).drawn)
        hints.append(f"--depth {depth} draws {count:,} nodes")
    if not drawing.collapse:
        count = len(Diagram(network, drawing.depth, drawing.direction, True).drawn)
        hints.append(f"--collapse (the default) draws repeated blocks once: {count:,} nodes")
    hints.append("-o NAME.dot writes the DOT text, which needs no layout")
    return ArchcError(
        f"the diagram of {network.name} has {len(drawing.drawn):,} nodes: more than Graphviz "
        f"lays out in seconds ({limit:,})", network.modules[()].span,
        notes=["draw fewer: " + "; ".join(hints)])


def write(graph: graphviz.Digraph, path: FilePath) -> None:
    """Write a diagram; the extension picks the format (.svg, .png, .pdf, or .dot text)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ArchcError(f"unknown diagram format {path.suffix!r}", expected=", ".join(FORMATS),
                         found=path.name)
    if suffix == ".dot":
        text: str = graph.source

        def write_text(target: FilePath) -> None:
            target.write_text(text, encoding="utf-8")

        atomic_write(path, write_text)
        return
    data = render(graph, suffix[1:])

    def write_bytes(target: FilePath) -> None:
        target.write_bytes(data)

    atomic_write(path, write_bytes)


def render(graph: graphviz.Digraph, fmt: str) -> bytes:
    """The diagram rendered by Graphviz's `dot`; a clear error when it is not installed."""
    try:
        if fmt == "png":  # crisper bitmaps; vector formats keep their natural size
            graph = graph.copy()
            graph.attr(dpi=str(PNG_DPI))
        data: bytes = graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise ArchcError("the Graphviz `dot` program is not installed, so the diagram cannot be "
                         f"rendered as {fmt.upper()}", notes=[INSTALL_HINT]) from None
    except graphviz.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else ""
        raise ArchcError(f"Graphviz `dot` failed: {stderr.strip() or error}") from None
    return data

