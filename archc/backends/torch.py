"""IR network → a live nn.Module, by executing the generated source (one code path).

Input: an `ir.Network`. Output: an instance of the generated root class. The source is
registered with linecache under a stable file name so that inspect, TorchScript and tracebacks
see the same text that `archc compile -o model.py` writes. Its classes pickle with the text
(`copyreg`), so torch.save of a whole model, copy.deepcopy and spawn workers work; unpickling
needs archc installed, as any pickled class needs its package.
"""

from __future__ import annotations
import __future__

import copyreg
import functools
import hashlib
import linecache
from types import CodeType
from typing import Any

import torch

from archc.backends.python import generate_source, source_filename
from archc.ir import Network

# source text's sha256 → the nn.Module classes it defines: each text runs once per process, so
# every build (and every copy or unpickled instance) of one source shares its classes
_CLASSES: dict[str, dict[str, type[torch.nn.Module]]] = {}


def load_source(text: str, class_name: str, label: str = "network",
                code: CodeType | None = None) -> type[torch.nn.Module]:
    """Execute generated source as a module (once per text) and return its root class.
    `code` is the text compiled by generate_source, used if it was compiled under this
    label's file name."""
    return _classes(text, label, code)[class_name]


def _classes(text: str, label: str = "network",
             code: CodeType | None = None) -> dict[str, type[torch.nn.Module]]:
    digest = hashlib.sha256(text.encode()).hexdigest()
    known = _CLASSES.get(digest)
    if known is not None:
        return known
    filename = source_filename(text, label)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    if code is None or code.co_filename != filename:
        code = compile(text, filename, "exec", flags=__future__.annotations.compiler_flag,
                       dont_inherit=True)
    name = f"archc_generated_{digest[:12]}"
    namespace: dict[str, Any] = {"__name__": name, "__file__": filename}
    exec(code, namespace)  # the text is archc's own output, never spec text
    known = {key: value for key, value in namespace.items() if isinstance(value, type)
             and issubclass(value, torch.nn.Module) and value.__module__ == name}
    for cls in known.values():
        # a generated class has no module to be imported from by name, so pickle (torch.save,
        # deepcopy, spawn workers) would fail: it is pickled with the source text instead
        copyreg.pickle(cls, functools.partial(_reduce, text))
    _CLASSES[digest] = known
    return known


def _reduce(text: str, module: torch.nn.Module) -> tuple[Any, ...]:
    """How an instance of a generated class pickles: rebuilt from the source text and its
    class name, then given its state as any nn.Module is (so later changes to it are kept)."""
    state = module.__getstate__()  # type: ignore[no-untyped-call]  # what torch pickles
    return _instance, (text, type(module).__qualname__), state


def _instance(text: str, class_name: str) -> torch.nn.Module:
    """An empty instance of a generated class, for unpickling (its state follows)."""
    cls = _classes(text)[class_name]
    return cls.__new__(cls)


def build_module(network: Network) -> torch.nn.Module:
    source = generate_source(network, compiled=True)
    return instantiate(source.text, source.class_name, network.name, source.code)


def instantiate(text: str, class_name: str, label: str = "network",
                code: CodeType | None = None) -> torch.nn.Module:
    """An instance of generated source's root class, which keeps the text it came from."""
    module = load_source(text, class_name, label, code)()
    module.archc_source = text  # type: ignore[assignment]
    return module
