"""The shape report: IR network → per-layer rows (path, op, output shape, params), as data for
JSON and as a rich table for people. No torch import."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from archc.elaborate import render_value
from archc.ir import Module, Network, Path
from archc.ops import OPS
from archc.ops.registry import Shape, format_shape


def _json_shape(shape: Shape) -> list[int | None]:
    return list(shape)


def _members(network: Network) -> dict[Path, list[int]]:
    members: dict[Path, list[int]] = {}
    for node in network.nodes():
        if node.op == "input":
            continue
        owner = node.module if node.module is not None else node.scope
        for depth in range(len(owner) + 1):
            members.setdefault(owner[:depth], []).append(node.id)
    return members


def _module_output(network: Network, nodes: list[int]) -> int:
    inside = set(nodes)
    outputs = {n for _, n in network.outputs}
    gives = [n for n in nodes if n in outputs or any(
        c not in inside for c in network.consumers(n))]
    return max(gives) if gives else max(nodes)


def describe(network: Network, module: Module) -> str:
    """How a row names what it is: `conv 7x7 /2, 64`, `inception(64, [96, 128], ...)`."""
    if module.kind == "op":
        assert module.node is not None
        node = network.node(module.node)
        key = OPS[node.op].key(node.attrs)
        return f"{node.op} {key}" if key else node.op
    if module.kind == "block":
        args = ", ".join(render_value(v) for v in module.args.values())
        return f"{module.block}({args})"
    return "sequence"


def shape_report(network: Network, depth: int | None = None) -> dict[str, Any]:
    members = _members(network)
    rows: list[dict[str, Any]] = []

    def visit(path: Path) -> None:
        module = network.modules[path]
        children = {(*path, c) for c in module.children}
        functional = [n for n in members.get(path, []) if network.node(n).module is None
                      and network.node(n).scope == path]
        entries: list[tuple[int, Any]] = [(min(members.get(p, [0])), p) for p in children]
        entries += [(n, n) for n in functional]
        for _, item in sorted(entries, key=lambda e: e[0]):
            if isinstance(item, int):
                node = network.node(item)
                level = len(path) + 1
                if depth is None or level <= depth:
                    rows.append({
                        "path": ".".join((*path, node.name or node.op)),
                        "op": node.op,
                        "kind": "function",
                        "depth": level,
                        "shape": _json_shape(node.shape),
                        "params": 0,
                    })
                continue
            child = network.modules[item]
            nodes = members.get(item, [])
            if not nodes:
                continue
            out = network.node(_module_output(network, nodes))
            level = len(item)
            if depth is None or level <= depth:
                rows.append({
                    "path": ".".join(item),
                    "op": child.block if child.kind == "block" else (
                        network.node(child.node).op if child.node is not None else "sequence"),
                    "kind": child.kind,
                    "depth": level,
                    "label": describe(network, child),
                    "shape": _json_shape(out.shape),
                    "params": sum(network.node(n).params for n in nodes),
                })
            visit(item)

    visit(())
    return {
        "name": network.name,
        "doc": network.doc,
        "params": network.total_params,
        "buffers": network.total_buffers,
        "inputs": {name: _json_shape(network.node(i).shape) for name, i in network.inputs.items()},
        "outputs": [_json_shape(network.node(i).shape) for _, i in network.outputs],
        "output_names": [name for name, _ in network.outputs],
        "parameters": network.params,
        "layers": rows,
    }


def human(count: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.2f}{unit}"
    return str(count)


def _shape(dims: list[int | None]) -> str:
    return format_shape(tuple(dims))


def render_table(report: dict[str, Any], console: Console) -> None:
    shape = _shape
    table = Table(title=f"{report['name']}", title_justify="left", header_style="bold",
                  show_edge=False, pad_edge=False)
    table.add_column("layer", no_wrap=True)
    table.add_column("op")
    table.add_column("output shape", no_wrap=True)
    table.add_column("params", justify="right")
    for name, dims in report["inputs"].items():
        table.add_row(f"[dim]{name}[/dim]", "[dim]input[/dim]", shape(dims), "")
    for row in report["layers"]:
        indent = "  " * (row["depth"] - 1)
        leaf = row["path"].rsplit(".", 1)[-1]
        label = row.get("label", row["op"])
        style = "bold" if row["kind"] in ("block", "container") else ""
        params = f"{row['params']:,}" if row["params"] else ""
        name = f"[{style}]{indent}{leaf}[/{style}]" if style else f"{indent}{leaf}"
        table.add_row(name, label, shape(row["shape"]), params)
    console.print(table)
    outputs = ", ".join(shape(o) for o in report["outputs"])
    console.print(f"output {outputs}   params {report['params']:,} ({human(report['params'])})"
                  f"   buffers {report['buffers']:,}")
