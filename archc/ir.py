"""The IR: a networkx DiGraph of op nodes, plus the module tree they live in.

Input: built by `elaborate`. Output: what every backend and analysis reads: each node's op,
resolved attributes, inputs, static output shape, parameter count, source span and module
path. `verify` re-derives every shape from the registry so a backend can trust `node.shape`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from archc.errors import Frame, Span
from archc.ops import OPS
from archc.ops.registry import Shape

Path = tuple[str, ...]


@dataclass(frozen=True)
class Node:
    """One op application (or a network input, op 'input')."""

    id: int
    op: str
    attrs: dict[str, Any]
    inputs: tuple[int, ...]
    shape: Shape
    span: Span
    scope: Path  # the module this node is computed in
    module: Path | None  # the module this node *is* (ops that become modules), else None
    name: str | None = None  # the user's name for it, if any
    frames: tuple[Frame, ...] = ()
    params: int = 0
    buffers: int = 0
    macs: int = 0
    sources: dict[str, Any] = field(default_factory=dict, compare=False)
    # attribute -> the spec expression (AST) it was written as, for readable generated code

    @property
    def path(self) -> str:
        """Dot-separated path for tables: the module path, or scope + op for functions."""
        if self.module is not None:
            return ".".join(self.module)
        return ".".join((*self.scope, self.name or self.op))


@dataclass
class Module:
    """A module in the hierarchy: the network, a block instance, a named container or an op."""

    path: Path
    kind: str  # 'root' | 'block' | 'container' | 'op'
    span: Span
    block: str | None = None  # block definition name for kind 'block'
    args: dict[str, Any] = field(default_factory=dict)  # bound block arguments
    children: list[str] = field(default_factory=list)
    node: int | None = None  # for kind 'op': the node it computes
    sources: dict[str, Any] = field(default_factory=dict)  # block argument -> its expression

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else ""


@dataclass(frozen=True)
class BlockInfo:
    """What backends need of a block definition to write a class a person would write."""

    params: list[str]
    doc: str | None
    defaults: dict[str, Any]  # parameters whose default is a plain value


@dataclass
class Network:
    """The elaborated network: graph, module tree, inputs and outputs."""

    name: str
    doc: str | None
    graph: nx.DiGraph
    modules: dict[Path, Module]
    inputs: dict[str, int]  # input name -> node id, in declaration order
    outputs: list[tuple[str, int]]  # (name, node id), in order
    params: dict[str, Any]  # the spec parameters' final values
    blocks: dict[str, BlockInfo] = field(default_factory=dict)


    def node(self, node_id: int) -> Node:
        value = self.graph.nodes[node_id]["node"]
        assert isinstance(value, Node)
        return value

    def nodes(self) -> Iterator[Node]:
        """Every node, in elaboration order (which is a topological order)."""
        for node_id in sorted(self.graph.nodes):
            yield self.node(node_id)

    def consumers(self, node_id: int) -> list[int]:
        return sorted(self.graph.successors(node_id))

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes())

    @property
    def total_buffers(self) -> int:
        return sum(n.buffers for n in self.nodes())

    def output_shapes(self) -> list[Shape]:
        return [self.node(i).shape for _, i in self.outputs]


def verify(network: Network) -> Network:
    """Check the invariants elaboration promises; an AssertionError here is a compiler bug."""
    graph = network.graph
    assert nx.is_directed_acyclic_graph(graph), "the graph has a cycle"
    for node in network.nodes():
        assert all(i < node.id for i in node.inputs), f"node {node.id} uses a later node"
        if node.op == "input":
            continue
        op = OPS[node.op]
        shapes = [network.node(i).shape for i in node.inputs]
        assert op.shape(node.attrs, shapes) == node.shape, f"shape of node {node.id} drifted"
        assert op.params(node.attrs, shapes) == node.params
    for _, node_id in network.outputs:
        assert node_id in graph
    return network
