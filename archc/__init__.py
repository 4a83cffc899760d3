"""archc: an architecture compiler for PyTorch.

The public API: `load` (spec → AST), `network` (→ IR with static shapes), `build`
(→ nn.Module), `source` (→ readable PyTorch source), `shapes` (→ the shape report), `draw`
(→ a Graphviz diagram), and `ArchcError`, which every mistake in a spec becomes.
"""

from archc.api import build, draw, load, network, shapes, source
from archc.elaborate import Limits
from archc.errors import ArchcError

__all__ = ["ArchcError", "Limits", "build", "draw", "load", "network", "shapes", "source"]
__version__ = "0.1.0"
