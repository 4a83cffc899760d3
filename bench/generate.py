"""Generated specs for the scaling benchmark: n layers as a plain chain, as residual blocks and
as dense (concatenating) blocks, in the YAML spelling."""

from __future__ import annotations


def sequential(layers: int) -> str:
    """A chain of `layers` layers (conv + relu pairs on a small input)."""
    pairs = max(1, layers // 2)
    return (f"name: chain_{layers}\ninput: [8, 8, 8]\nlayers:\n"
            + "".join("  - conv(8, 3, padding=1)\n  - relu\n" for _ in range(pairs)))


def residual(layers: int) -> str:
    """Residual blocks of five layers each (conv-bn-relu-conv-bn and an add), repeated."""
    blocks = max(1, layers // 6)
    return f"""name: residual_{layers}
input: [8, 8, 8]
blocks:
  unit:
    body:
      - add:
          - conv(8, 3, padding=1); bn; relu; conv(8, 3, padding=1); bn
          - identity
      - relu
layers:
  - repeat: {blocks}
    body: unit
"""


def dense(layers: int) -> str:
    """Dense blocks: each layer's output concatenated to its input, with transitions that halve
    the channels every 8 layers so the tensors stay small."""
    groups = max(1, layers // 36)
    return f"""name: dense_{layers}
input: [8, 8, 8]
blocks:
  dense_layer:
    body:
      concat:
        - identity
        - bn; relu; conv(4, 3, padding=1)
  group:
    body:
      - repeat: 8
        body: dense_layer
      - bn; relu; conv(8, 1)
layers:
  - repeat: {groups}
    body: group
"""


KINDS = {"sequential": sequential, "residual": residual, "dense": dense}
