"""Values as people read them: shapes, attribute values, counts and sizes. Torch-free, and at
the bottom of the package (it imports nothing of archc but archc.dims, the shape type), so
the compiler core, the reports, the diagrams and the docs all say a value the same way.

Input: a shape, a value, a count. Output: text such as `[N, 64, 56, 56]`, `[1, 2]`, `'same'`,
`true`, `25.56M`, `1.50 MiB`.
"""

from __future__ import annotations

from typing import Any

from archc.dims import Shape


def format_shape(shape: Shape) -> str:
    """`[N, 3, 224, 224]`: a symbol (the batch N, a length L) prints as its name."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def render_value(value: Any) -> str:
    """A value as a spec writes it: lists in [ ], strings quoted, true/false."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def short_value(value: Any, limit: int = 60) -> str:
    """A value for a message, cut short without rendering all of it (a value may hold
    thousands of elements)."""
    if isinstance(value, (list, tuple)):
        parts: list[str] = []
        length = 0
        for item in value:
            parts.append(short_value(item, limit))
            length += len(parts[-1]) + 2
            if length > limit:
                break
        text = "[" + ", ".join(parts) + "]"
    else:
        text = render_value(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def human(count: int) -> str:
    """`25.56M`: a count with K, M or G."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.2f}{unit}"
    return str(count)


def human_bytes(count: int) -> str:
    """`1.50 MiB`: bytes in binary units."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{count} B"
