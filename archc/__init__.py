"""archc: an architecture compiler for PyTorch.

The public API: `load` (spec → AST), `network` (→ IR with static shapes), `build`
(→ nn.Module), `source` (→ readable PyTorch source), `shapes` (→ the shape report), `draw`
(→ a Graphviz diagram), and `ArchcError`, which every mistake in a spec becomes.
"""

from importlib.metadata import version as _installed_version

from archc.api import Limits, build, draw, load, network, shapes, source
from archc.errors import ArchcError

__all__ = ["ArchcError", "Limits", "build", "draw", "load", "network", "shapes", "source"]
__version__ = _installed_version("archc")  # one version: pyproject.toml's, as installed
