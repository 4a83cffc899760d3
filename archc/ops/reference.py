"""The op reference in Markdown, from the registry: docs/ops.md and `archc ops --format
markdown`. Torch-free.

Input: `OPS`. Output: Markdown text, one section per op family.
"""

from __future__ import annotations

from archc.format import render_value
from archc.ops.registry import OPS, Op


def markdown() -> str:
    lines = [
        "# Op reference",
        "",
        "Generated from the op registry by `archc ops --format markdown`; a test keeps it",
        "current. Shapes include the batch dimension N. Arguments that archc infers from the",
        "input (in_channels, in_features, num_features, ...) may be given, and must then agree.",
        "Positional arguments follow PyTorch's constructor order without the inferred ones.",
        "MACs, FLOPs, receptive fields and memory follow the conventions of",
        "[analysis.md](analysis.md).",
        "",
    ]
    families: dict[str, list[Op]] = {}
    for op in sorted(OPS.values(), key=lambda o: o.name):
        families.setdefault(op.family, []).append(op)
    lines += ["| op | family | summary |", "|---|---|---|"]
    for op in sorted(OPS.values(), key=lambda o: (o.family, o.name)):
        lines.append(f"| [`{op.name}`](#{op.name}) | {op.family} | {op.doc} |")
    for family in sorted(families):
        lines += ["", f"## {family}"]
        for op in families[family]:
            lines += ["", f"### {op.name}", "", f"`{op.signature()}`", "", op.doc, ""]
            lines.append(f"Shape: {op.shape_rule or 'see above'}.")
            kind = "a module" if op.module is not None else "a forward expression (no module)"
            lines.append(f"Becomes {kind}; inputs: "
                         f"{'any number of branches' if op.arity is None else op.arity}.")
            lines.append(f"MACs: {op.macs_rule or '0'}. FLOPs: {op.flops_rule or '0'}.")
            lines.append(f"Receptive field: {op.window_rule}."
                         + (" No new tensor: the output is its input's storage"
                            + (" (with inplace=true)." if op.attr("inplace") else ".")
                            if op.alias({"inplace": True}) else ""))
            if op.attrs:
                lines += ["", "| argument | default | meaning |", "|---|---|---|"]
                for attr in op.attrs:
                    default = "required" if attr.required else f"`{render_value(attr.default)}`"
                    if attr.inferred:
                        default = "inferred"
                    lines.append(f"| `{attr.name}` | {default} | {attr.doc} ({attr.type.name}) |")
    return "\n".join(lines) + "\n"
