"""archc: an architecture compiler for PyTorch.

The public API: `load` (spec → AST), `network` (→ IR with static shapes), `build`
(→ nn.Module), `source` (→ readable PyTorch source), `shapes` (→ the shape report), `draw`
(→ a Graphviz diagram), and `ArchcError`, which every mistake in a spec becomes.

The names are loaded when first used (PEP 562), so that a process that needs only part of
archc (the CLI's --help, one command) does not import the whole compiler.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from archc.version import VERSION

if TYPE_CHECKING:
    from archc.api import build, draw, load, network, shapes, source
    from archc.errors import ArchcError
    from archc.limits import Limits

__all__ = ["ArchcError", "Limits", "build", "draw", "load", "network", "shapes", "source"]
__version__ = VERSION

_HOMES = {"ArchcError": "archc.errors", "Limits": "archc.limits", "build": "archc.api",
          "draw": "archc.api", "load": "archc.api", "network": "archc.api",
          "shapes": "archc.api", "source": "archc.api"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'archc' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
