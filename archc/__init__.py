"""archc: an architecture compiler for PyTorch.

The public API: `load` (spec → AST), `network` (→ IR with static shapes), `build`
(→ nn.Module), `source` (→ readable PyTorch source), `shapes` (→ the shape report), `draw`
(→ a Graphviz diagram), and `ArchcError`, which every mistake in a spec becomes.
"""

from archc.api import Limits, build, draw, load, network, shapes, source
from archc.errors import ArchcError
from archc.version import VERSION

__all__ = ["ArchcError", "Limits", "build", "draw", "load", "network", "shapes", "source"]
__version__ = VERSION
