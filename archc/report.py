"""The shape report: IR network → per-layer rows (path, op, output shape, params, MACs, FLOPs,
output bytes, receptive field) and totals, as data for JSON and as a table for people.
The numbers come from `archc.analysis`. No torch import."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TextIO

from archc.analysis import (
    Analysis,
    Field,
    MinInput,
    analyse,
    dim_names,
    residues,
)
from archc.format import human, human_bytes
from archc.gcpause import without_collector
from archc.ir import Network, Path
from archc.ops.registry import BATCH, Shape, Symbol, format_shape

# the table's columns after the layer name, and those shown unless --columns says otherwise
COLUMNS = ("op", "shape", "params", "macs", "flops", "memory", "rf", "stride")
DEFAULT_COLUMNS = ("op", "shape", "params", "macs")


def parse_columns(text: str) -> tuple[str, ...]:
    """`op,shape,macs` → the columns; `all` → every one. ValueError names an unknown one."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return COLUMNS
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or not names:
        raise ValueError(f"unknown column {unknown[0]!r}" if unknown else "no columns given")
    return tuple(dict.fromkeys(names))


# a dim in JSON: a number; the batch null (as it has always been written); any other
# symbol (a sequence length L) its name as a string
JsonDim = int | str | None


def _json_shape(shape: Shape) -> list[JsonDim]:
    return [None if d == BATCH else d.name if isinstance(d, Symbol) else d for d in shape]


def _number(value: Fraction | None) -> int | float | None:
    """Exact integers stay integers; fractions (after upsampling) become floats."""
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)


def _field_data(field: Field | None) -> dict[str, Any]:
    if field is None:
        return {"rf": None, "stride": None, "rf_start": None, "rf_whole": None}
    return {
        "rf": [_number(e.size) for e in field],
        "stride": [_number(e.jump) for e in field],
        "rf_start": [_number(e.start) for e in field],
        "rf_whole": [e.whole for e in field],
    }


@without_collector
def shape_report(network: Network, depth: int | None = None, dtype: str = "float32",
                 analysis: Analysis | None = None) -> dict[str, Any]:
    """The report as JSON-ready data; counts are exact integers, memory in bytes per sample
    (batch 1) of `dtype`."""
    analysis = analysis or analyse(network, dtype)
    t = analysis.totals
    return {
        "name": network.name,
        "doc": network.doc,
        "params": network.total_params,
        "buffers": network.total_buffers,
        "macs": t.macs,
        "flops": t.flops,
        "memory": {
            "dtype": analysis.dtype,
            "element_size": analysis.element_size,
            "batch": 1,
            "inputs": t.inputs,
            "activations": t.activations,
            "peak": t.peak,
            "peak_at": network.node(t.peak_node).path if t.peak_node is not None else None,
            "training": t.training,
        },
        "rf_input": analysis.reference,
        "inputs": {name: _json_shape(network.node(i).shape) for name, i in network.inputs.items()},
        "outputs": [_json_shape(network.node(i).shape) for _, i in network.outputs],
        "output_names": [name for name, _ in network.outputs],
        **({"training_outputs": [_json_shape(network.node(i).shape)
                                 for _, i in network.training_outputs],
            "training_output_names": [name for name, _ in network.training_outputs]}
           if network.training_outputs else {}),
        "parameters": network.params,
        "layers": _rows(network, analysis, depth),
    }


def _rows(network: Network, analysis: Analysis, depth: int | None) -> list[dict[str, Any]]:
    """One row per module and per functional node, in the order the spec writes them, down
    to `depth` levels (with an explicit stack: a network may nest deeply)."""
    rows: list[dict[str, Any]] = []
    stack: list[Path | int] = list(reversed(_entries(network, ())))
    while stack:
        item = stack.pop()
        if isinstance(item, int):
            if depth is None or len(network.node(item).scope) + 1 <= depth:
                rows.append(_function_row(network, analysis, item))
            continue
        if depth is None or len(item) <= depth:
            rows.append(_module_row(network, analysis, item))
        stack.extend(reversed(_entries(network, item)))
    return rows


def _entries(network: Network, path: Path) -> list[Path | int]:
    """A module's child modules that compute something and its own functional nodes, in
    order of their first node."""
    inside = network.members
    children = [(*path, c) for c in network.modules[path].children]
    entries: list[tuple[int, Path | int]] = [(min(inside[p]), p) for p in children if inside.get(p)]
    entries += [(n, n) for n in inside.get(path, [])
                if network.node(n).module is None and network.node(n).scope == path]
    return [item for _, item in sorted(entries, key=lambda e: e[0])]


def _function_row(network: Network, analysis: Analysis, node_id: int) -> dict[str, Any]:
    node = network.node(node_id)
    cost = analysis.nodes[node_id]
    return {
        "path": ".".join((*node.scope, node.name or node.op)),
        "op": node.op,
        "kind": "function",
        "depth": len(node.scope) + 1,
        "shape": _json_shape(node.shape),
        "params": 0,
        "macs": cost.macs,
        "flops": cost.flops,
        "memory": cost.bytes,
        **_field_data(cost.field),
        **({"training_only": True} if node_id in network.training_only else {}),
    }


def _module_row(network: Network, analysis: Analysis, path: Path) -> dict[str, Any]:
    module = network.modules[path]
    totals = analysis.modules[path]
    out = analysis.nodes[totals.output]
    return {
        "path": ".".join(path),
        "op": module.block if module.kind == "block" else (
            network.node(module.node).op if module.node is not None else "sequence"),
        "kind": module.kind,
        "depth": len(path),
        "label": network.label(module),
        "shape": _json_shape(network.node(totals.output).shape),
        "params": totals.params,
        "macs": totals.macs,
        "flops": totals.flops,
        "memory": out.bytes,
        **_field_data(out.field),
        **({"training_only": True} if network.training_only.issuperset(totals.nodes)
           and network.training_only else {}),
    }


def min_input_data(found: MinInput) -> dict[str, Any]:
    """`archc shapes --min-input` as JSON-ready data."""
    names = dim_names(len(found.dims))
    return {
        "input": found.input,
        "declared": list(found.declared),
        "smallest": None if found.smallest is None else
        [found.declared[0], *([found.smallest] * len(found.dims))],
        "failure": found.failure,
        "dims": {name: {
            "smallest": d.smallest,
            "period": d.period,
            "divisible": None if d.divisible is None else list(d.divisible),
            "aligned": None if d.aligned is None else list(d.aligned),
            "invalid": list(d.unknown),
        } for name, d in zip(names, found.dims, strict=True)},
        "rounding": list(found.rounding),
        "elaborations": found.elaborations,
        "sizes": found.sizes,
        "params_at_smallest": found.params_at_smallest,
    }


def _shape(dims: list[JsonDim]) -> str:
    """A JSON shape (`_json_shape`) as text: `[N, L, 768]`."""
    return format_shape(tuple(BATCH if d is None else Symbol(d) if isinstance(d, str) else d
                              for d in dims))


def _per_dim(values: Sequence[Any] | None, whole: Sequence[bool] | None = None) -> str:
    """`427`, `7×1`, `all` (the whole input), `1/2`; '' when unknown."""
    if values is None:
        return ""
    shown = []
    for i, value in enumerate(values):
        if whole is not None and whole[i]:
            shown.append("all")
        elif value is None:
            shown.append("-")
        elif isinstance(value, float):
            shown.append(str(Fraction(value).limit_denominator(1000)))
        else:
            shown.append(str(value))
    return shown[0] if len(set(shown)) == 1 else "×".join(shown)


_HEADERS = {"op": "op", "shape": "output shape", "params": "params", "macs": "MACs",
            "flops": "FLOPs", "memory": "memory", "rf": "RF", "stride": "stride"}


def _cell(row: dict[str, Any], column: str) -> str:
    if column == "op":  # what runs only while training is said so: its MACs are not in the total
        label = str(row.get("label", row["op"]))
        return f"{label} (training)" if row.get("training_only") else label
    if column == "shape":
        return _shape(row["shape"])
    if column == "params":
        return f"{row['params']:,}" if row["params"] else ""
    if column in ("macs", "flops"):
        return human(row[column]) if row[column] else ""
    if column == "memory":
        return human_bytes(row["memory"])
    if column == "rf":
        return _per_dim(row["rf"], row["rf_whole"])
    return _per_dim(row["stride"])


OP_WIDTH = 24  # the op column wraps at this width before the table outgrows the console
MIN_OP_WIDTH = 12


def _op_width(widths: list[int], op: int | None, console_width: int) -> int | None:
    """How wide the op column may be: as wide as its longest cell when the table fits the
    console, else narrowed to fit, but never below OP_WIDTH (the table is then wider than the
    console: numbers are never cut short)."""
    if op is None:
        return None
    total = sum(widths) + 3 * (len(widths) - 1)
    if total <= console_width:
        return widths[op]
    return max(min(widths[op], OP_WIDTH), widths[op] - (total - console_width), MIN_OP_WIDTH)


@dataclass(frozen=True)
class Terminal:
    """Where the tables are printed: a text stream, its width in cells, and whether it takes
    ANSI styles (a terminal, unless NO_COLOR is set; never a pipe or a file)."""

    file: TextIO
    width: int = 80
    styled: bool = False

    @classmethod
    def standard_output(cls) -> Terminal:
        import shutil
        import sys

        styled = sys.stdout.isatty() and not os.environ.get("NO_COLOR") \
            and os.environ.get("TERM") != "dumb"
        return cls(sys.stdout, shutil.get_terminal_size().columns, styled)

    def print(self, *parts: str | tuple[str, str]) -> None:
        """One line of plain text and (text, style) pairs; style is "bold", "dim" or ""."""
        import click

        out = []
        for part in parts:
            text, style = (part, "") if isinstance(part, str) else part
            out.append(click.style(text, bold=style == "bold" or None,
                                   dim=style == "dim" or None)
                       if self.styled and style and text else text)
        self.file.write("".join(out).rstrip() + "\n")


def render_table(report: dict[str, Any], out: Terminal,
                 columns: Sequence[str] = DEFAULT_COLUMNS) -> None:
    """The per-layer table: a header, a rule, a row per layer (blocks in bold, nested rows
    indented) and the totals under it, laid out as rich's Table lays it out (a test holds
    it to that), in one pass over the cells: rich's Table measures every cell several times,
    which took 0.25 s for ResNet-50's 200 rows and 20 s for 15,000, and importing rich took
    a tenth of `archc shapes`."""
    from textwrap import wrap
    from unicodedata import east_asian_width

    def cell_len(text: str) -> int:
        return len(text) if text.isascii() else sum(
            2 if east_asian_width(c) in "WF" else 1 for c in text)

    header = ["layer", *(_HEADERS[c] for c in columns)]
    right = [False, *(c not in ("op", "shape") for c in columns)]
    rows: list[tuple[list[str], str]] = []  # the cells, and the style of the layer's name
    for name, dims in report["inputs"].items():
        first = {"op": "input", "shape": _shape(dims)}
        rows.append(([name, *(first.get(c, "") for c in columns)], "dim"))
    for row in report["layers"]:
        leaf = "  " * (row["depth"] - 1) + row["path"].rsplit(".", 1)[-1]
        rows.append(([leaf, *(_cell(row, c) for c in columns)],
                     "bold" if row["kind"] in ("block", "container") else ""))
    widths = [max(cell_len(cells[i]) for cells in [header, *(r for r, _ in rows)])
              for i in range(len(header))]
    op = 1 + list(columns).index("op") if "op" in columns else None
    op_width = _op_width(widths, op, out.width)
    if op is not None and op_width is not None:
        widths[op] = op_width

    def line(cells: list[str], separator: str, styles: Sequence[str]) -> None:
        parts: list[str | tuple[str, str]] = []
        for i, cell in enumerate(cells):
            if i:
                parts.append(separator)
            pad = " " * (widths[i] - cell_len(cell))
            parts += [pad, (cell, styles[i])] if right[i] else [(cell, styles[i]), pad]
        out.print(*parts)

    out.print(report["name"])
    line(header, " ┃ ", ["bold"] * len(header))
    out.print("━╇━".join("━" * w for w in widths))
    for cells, style in rows:
        pieces = [cells]
        if op is not None and cell_len(cells[op]) > widths[op]:
            wrapped = wrap(cells[op], widths[op]) or [""]
            pieces = [[*cells[:op], wrapped[0], *cells[op + 1:]]]
            pieces += [["" if i != op else piece for i in range(len(cells))]
                       for piece in wrapped[1:]]
        for piece in pieces:
            line(piece, " │ ", [style, "dim" if style == "dim" else "",
                                *([""] * (len(piece) - 2))])
    _totals(report, out)


def _totals(report: dict[str, Any], out: Terminal) -> None:
    """The lines under the table: outputs, parameters, MACs, FLOPs, memory."""
    outputs = ", ".join(_shape(o) for o in report["outputs"])
    if "training_outputs" in report:
        outputs += " (training: " + ", ".join(_shape(o) for o in report["training_outputs"]) + ")"
    memory = report["memory"]
    out.print(f"output {outputs}   params {report['params']:,} ({human(report['params'])})"
              f"   buffers {report['buffers']:,}")
    out.print(f"MACs {human(report['macs'])}   FLOPs {human(report['flops'])}")
    out.print(f"memory ({memory['dtype']}, batch 1): peak {human_bytes(memory['peak'])}, "
              f"training {human_bytes(memory['training'])}")


def render_min_input(data: dict[str, Any], out: Terminal) -> None:
    """The --min-input summary, a few lines under the table."""
    size = "×".join(map(str, data["smallest"])) if data["smallest"] else "none found"
    line = f"min input {data['input']}: {size}"
    if data["failure"]:
        line += f"; one smaller fails: {data['failure']}"
    out.print(line)
    if data.get("training"):  # an auxiliary head that needs more than inference does
        training = data["training"]
        needs = "×".join(map(str, training["smallest"])) if training["smallest"] else "none found"
        out.print(f"  while training, the outputs {', '.join(training['outputs'])} need "
                  f"{needs}" + (f"; one smaller fails: {training['failure']}"
                                if training["failure"] else ""))
    dims = data["dims"]
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name, d in dims.items():
        key = (f"{d['smallest']}", residues(d["period"], d["divisible"]),
               residues(d["period"], d["aligned"]))
        groups.setdefault(key, []).append(name)
    for (smallest, divisible, aligned), names in groups.items():
        which = ", ".join(names)
        if len(groups) > 1:
            out.print(f"  {which} ≥ {smallest} (the other dims as declared)")
        out.print(f"  exact strides (each strided input a multiple of its stride): "
                  f"{which}: {divisible}")
        out.print(f"  no remainder (each strided window ends on the padded edge): "
                  f"{which}: {aligned}")
    if data.get("params_at_smallest") is not None:
        declared = "×".join(map(str, data["declared"]))
        out.print(f"  the weights' shapes follow the input: {data['params_at_smallest']:,} "
                  f"parameters at {size};")
        out.print(f"  a model built at {declared} runs at that size only")
    if data["rounding"]:
        shown = "; ".join(data["rounding"][:3]) + ("; ..." if len(data["rounding"]) > 3 else "")
        out.print(f"  at the declared size, {len(data['rounding'])} strided inputs "
                  f"round: {shown}")
    count, tried = data["elaborations"], data.get("sizes", data["elaborations"])
    if tried == count:
        out.print(f"  (searched by elaborating {count} input size{'s' if count != 1 else ''})")
    else:
        out.print(f"  (searched {tried} input size{'s' if tried != 1 else ''} on the "
                  f"elaborated graph, and elaborated {count} to confirm)")
