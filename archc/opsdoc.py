"""The op reference, generated from the registry: IR-free, torch-free.

Input: `OPS`. Output: Markdown (docs/ops.md, `archc ops --format markdown`) or rows for the
`archc ops` table. A test keeps docs/ops.md equal to this output.
"""

from __future__ import annotations

from archc.elaborate import render_value
from archc.ops import OPS
from archc.ops.registry import Op


def signature(op: Op) -> str:
    parts = []
    for attr in op.attrs:
        if attr.inferred:
            continue
        name = f"*{attr.name}" if attr.variadic else attr.name
        parts.append(name if attr.required else f"{name}={render_value(attr.default)}")
    return f"{op.name}({', '.join(parts)})" if parts else op.name


def markdown() -> str:
    lines = [
        "# Op reference",
        "",
        "Generated from the op registry by `archc ops --format markdown`; a test keeps it",
        "current. Shapes include the batch dimension N. Arguments that archc infers from the",
        "input (in_channels, in_features, num_features, ...) may be given, and must then agree.",
        "Positional arguments follow PyTorch's constructor order without the inferred ones.",
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
            lines += ["", f"### {op.name}", "", f"`{signature(op)}`", "", op.doc, ""]
            lines.append(f"Shape: {op.shape_rule or 'see above'}.")
            kind = "a module" if op.module is not None else "a forward expression (no module)"
            lines.append(f"Becomes {kind}; inputs: "
                         f"{'any number of branches' if op.arity is None else op.arity}.")
            if op.attrs:
                lines += ["", "| argument | default | meaning |", "|---|---|---|"]
                for attr in op.attrs:
                    default = "required" if attr.required else f"`{render_value(attr.default)}`"
                    if attr.inferred:
                        default = "inferred"
                    lines.append(f"| `{attr.name}` | {default} | {attr.doc} ({attr.type.name}) |")
    return "\n".join(lines) + "\n"
