"""IR network → a live nn.Module, by executing the generated source (one code path).

Input: an `ir.Network`. Output: an instance of the generated root class. The source is
registered with linecache under a stable file name so that inspect, TorchScript and tracebacks
see the same text that `archc compile -o model.py` writes.
"""

from __future__ import annotations

import hashlib
import linecache
from typing import Any

import torch

from archc.backends.python import generate_source
from archc.ir import Network


def load_source(text: str, class_name: str, label: str) -> type[torch.nn.Module]:
    """Execute generated source as a module and return its root class."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    filename = f"<archc:{label}:{digest}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    code = compile(text, filename, "exec")
    namespace: dict[str, Any] = {"__name__": f"archc_generated_{digest}", "__file__": filename}
    exec(code, namespace)  # the text is archc's own output, never spec text
    cls = namespace[class_name]
    assert isinstance(cls, type) and issubclass(cls, torch.nn.Module)
    return cls


def build_module(network: Network) -> torch.nn.Module:
    source = generate_source(network)
    cls = load_source(source.text, source.class_name, network.name)
    module = cls()
    module.archc_source = source.text  # type: ignore[assignment]
    return module
