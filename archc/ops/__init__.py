"""The built-in ops: importing this package registers every family in `OPS`."""

from archc.ops import (
    activation,
    attention,
    conv,
    linear,
    merge,
    norm,
    partitions,
    pool,
    tensor,
    windows,
)
from archc.ops.registry import OPS, Attr, Construct, Op, OpError, Role, Shape, format_shape

# the ops that take branches (`concat { ... }`, YAML `concat: [...]`), in registration order
MERGES = tuple(name for name, op in OPS.items() if op.role is Role.MERGE)

__all__ = [
    "MERGES",
    "OPS",
    "Attr",
    "Construct",
    "Op",
    "OpError",
    "Role",
    "Shape",
    "activation",
    "attention",
    "conv",
    "format_shape",
    "linear",
    "merge",
    "norm",
    "partitions",
    "pool",
    "tensor",
    "windows",
]
