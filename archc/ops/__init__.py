"""The built-in ops: importing this package registers every family in `OPS`."""

from archc.ops import activation, conv, linear, merge, norm, pool, tensor
from archc.ops.registry import OPS, Attr, Construct, Op, OpError, Shape, format_shape

__all__ = [
    "OPS",
    "Attr",
    "Construct",
    "Op",
    "OpError",
    "Shape",
    "activation",
    "conv",
    "format_shape",
    "linear",
    "merge",
    "norm",
    "pool",
    "tensor",
]
