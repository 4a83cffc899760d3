"""The Python API: load a spec, elaborate it, build modules and report shapes.

Input: a spec (a path, spec text in either spelling, a dict as parsed YAML, or an AST; see
`load` for which is which), parameter overrides and input shapes. Output: an AST, an
IR network, an nn.Module, the shape report or a diagram. torch is imported only by `build`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archc.elaborate import Limits as Limits  # re-exported: the CLI and users set limits here
from archc.elaborate import elaborate
from archc.errors import ArchcError, Source, Span, suggest
from archc.files import read_spec
from archc.format import format_shape as format_shape  # the CLI says shapes as the API does
from archc.frontend import ast
from archc.frontend.expressions import token_limit
from archc.frontend.text import parse_text
from archc.frontend.yaml import parse_yaml
from archc.gcpause import collector_paused
from archc.ir import Network
from archc.names import MAX_NAME_LENGTH

if TYPE_CHECKING:
    import graphviz
    import torch

SpecLike = str | os.PathLike[str] | Mapping[str, Any] | ast.Spec
InputShapes = Mapping[str, Sequence[int]] | Sequence[int] | None
SPEC_SUFFIXES = (".yaml", ".yml", ".arch")
TEXT_FORM = re.compile(r"\A(\s*#[^\n]*\n|\s)*network\b")
MAX_SPEC_BYTES = 1024 * 1024  # 6x the 10,000-layer benchmark spec; parsing more takes seconds
DICT_PATH = "<dict>"


def is_path(spec: str | os.PathLike[str]) -> bool:
    """Whether `load` reads `spec` as a file: a Path (any os.PathLike), or a one-line str that
    ends in .yaml, .yml or .arch. Any other str is spec text, whatever files exist."""
    if isinstance(spec, os.PathLike):
        return True
    return "\n" not in spec and spec.endswith(SPEC_SUFFIXES)


def load(spec: SpecLike, limits: Limits | None = None) -> ast.Spec:
    """Parse a spec (within `limits.max_tokens`). The API reads a file only when asked to:

    - an `ast.Spec` is returned as it is;
    - a `pathlib.Path` (any os.PathLike), or a one-line `str` ending in `.yaml`, `.yml` or
      `.arch`, is a path: only a regular file of at most MAX_SPEC_BYTES is read ("no such
      spec file: PATH" when it is missing; a FIFO, device or folder is refused unread);
    - any other `str` is spec text in either spelling (errors name it `<string>`), even when
      it happens to name an existing file;
    - a `dict` (any Mapping) is an already-parsed YAML spec, as `yaml.safe_load` gives: it is
      dumped back to YAML text and read by the YAML front end, so errors point at lines of
      that dumped text, named `<dict>`.
    """
    if isinstance(spec, ast.Spec):
        return spec
    with token_limit((limits or Limits()).max_tokens):
        return _load(spec)


def _load(spec: str | os.PathLike[str] | Mapping[str, Any]) -> ast.Spec:
    if isinstance(spec, Mapping):
        return _load_mapping(spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"a spec is a path, spec text, a dict or an ast.Spec, not "
                        f"{type(spec).__name__}")
    if isinstance(spec, os.PathLike) or is_path(spec):
        path = Path(spec)
        text = read_spec(path, MAX_SPEC_BYTES)
        return parse(text, str(path), default_name=default_name(path))
    try:
        return parse(spec, "<string>")
    except ArchcError as error:
        if "\n" not in spec and len(spec) < 4096 and os.path.exists(spec):
            # only the name is looked at, never the file: its contents stay out of errors
            error.notes.append(f"this str was read as spec text; to read the file {spec}, "
                               "pass pathlib.Path(...) (a str is a path only when it ends in "
                               ".yaml, .yml or .arch)")
        raise


def _plain(value: Any) -> Any:
    """Tuples as lists (what YAML would have given), mappings as dicts, recursively."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _load_mapping(spec: Mapping[str, Any]) -> ast.Spec:
    import yaml

    try:
        text = yaml.safe_dump(_plain(spec), sort_keys=False, allow_unicode=True,
                              default_flow_style=False, width=1 << 30)
    except RecursionError:
        raise ArchcError("the spec dict nests too deeply (or refers to itself)") from None
    except yaml.YAMLError as error:
        raise ArchcError("the spec dict holds a value that is not YAML data",
                         found=str(error).splitlines()[0] if str(error) else None,
                         expected="str, int, float, bool, None, lists and dicts with str "
                                  "keys") from None
    try:
        return parse_yaml(text, DICT_PATH)
    except RecursionError:
        raise _too_deep(Span(Source(DICT_PATH, text), 1, 1, 1, 2)) from None


def parse(text: str, path: str = "<string>", default_name: str = "network") -> ast.Spec:
    """Spec text in either spelling → AST: `.arch` files and text starting with `network` are
    the text form, everything else YAML."""
    try:
        if path.endswith(".arch") or (not path.endswith((".yaml", ".yml"))
                                      and TEXT_FORM.match(text)):
            return parse_text(text, path)
        return parse_yaml(text, path, default_name=default_name)
    except RecursionError:
        raise _too_deep(Span(Source(path, text), 1, 1, 1, 2)) from None


def default_name(path: Path) -> str:
    """The network's name when a spec file gives none: its file name as an identifier."""
    stem = "".join(c if c.isascii() and c.isalnum() else "_" for c in path.stem)
    name = stem if stem and not stem[0].isdigit() else f"net_{stem}"
    return name[:MAX_NAME_LENGTH]  # a file name may be longer than a name may be


def _inputs(inputs: InputShapes) -> dict[str, Sequence[int]] | None:
    if inputs is None:
        return None
    if isinstance(inputs, Mapping):
        return dict(inputs)
    return {"": list(inputs)}


def _value(value: Any, span: Span) -> ast.Expr:
    if isinstance(value, (list, tuple)):
        return ast.ListExpr(tuple(_value(v, span) for v in value), span)
    return ast.Literal(value, span)


def select_block(spec: ast.Spec, block: str, params: dict[str, Any]) -> tuple[ast.Spec,
                                                                              dict[str, Any]]:
    """A spec whose network is one instance of `block`; parameters named like the block's
    become its arguments, the rest stay spec parameters."""
    definitions = {b.name: b for b in spec.blocks}
    if block not in definitions:
        raise ArchcError(f"the spec has no block '{block}'", spec.span,
                         expected=", ".join(definitions) or "no blocks",
                         suggestions=suggest(block, definitions))
    definition = definitions[block]
    names = {p.name for p in definition.params}
    span = definition.span
    args = tuple(ast.Argument(k, _value(v, span), span) for k, v in params.items() if k in names)
    body = ast.Sequence((ast.Named(block, ast.Call(block, args, span), span),), span)
    rest = {k: v for k, v in params.items() if k not in names}
    return replace(spec, name=f"{spec.name}_{block}", body=body, outputs=()), rest


def value(text: str) -> Any:
    """The value of an archc expression with no names in it (`64`, `[3, 5]`, `2 ** 10`,
    `'nearest'`): what `-p name=value` gives a parameter."""
    from archc.expr.evaluate import Evaluator
    from archc.frontend.expressions import parse_expression

    return Evaluator({}, None)(parse_expression(text))


def network(spec: SpecLike, inputs: InputShapes = None, block: str | None = None,
            limits: Limits | None = None, **params: Any) -> Network:
    """Spec → elaborated IR network with static shapes (no torch).

    `block` takes one block of the spec as the network; `params` then also fill its arguments.
    """
    with collector_paused():
        tree = load(spec, limits)
        if block is not None:
            tree, params = select_block(tree, block, params)
        try:
            return elaborate(tree, params, _inputs(inputs), limits)
        except RecursionError:
            raise _too_deep(tree.span) from None


def _too_deep(span: Span) -> ArchcError:
    return ArchcError("the spec nests too deeply to read", span,
                      notes=["brackets, braces or entries nested hundreds of levels deep: "
                             "flatten them"])




def build(spec: SpecLike, inputs: InputShapes = None, block: str | None = None,
          weights: str | os.PathLike[str] | None = None, seed: int | None = None,
          **params: Any) -> torch.nn.Module:
    """Spec → nn.Module, built from the same source `archc compile -o model.py` writes.

    `seed` seeds torch while the module is built (the caller's random state is left as it
    was), so the initial weights are reproducible; `weights` loads a checkpoint (a state_dict
    file, plain or under 'state_dict' / 'model') strictly, and raises an ArchcError listing
    what does not fit."""
    import torch

    from archc.backends.torch import build_module

    net = network(spec, inputs, block, **params)
    if seed is None:
        module = build_module(net)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = build_module(net)
    if weights is not None:
        from archc.backends.artefacts import load_weights

        load_weights(module, Path(weights), net)
    return module


def source(spec: SpecLike, inputs: InputShapes = None, block: str | None = None,
           **params: Any) -> str:
    """Spec → standalone PyTorch source text."""
    from archc.backends.python import generate_source

    return generate_source(network(spec, inputs, block, **params)).text


def draw(spec: SpecLike, inputs: InputShapes = None, block: str | None = None,
         depth: int | None = None, direction: str = "TB", collapse: bool = True,
         **params: Any) -> graphviz.Digraph:
    """Spec → a diagram (no torch): a `graphviz.Digraph` that renders inline in Jupyter;
    `.source` is its DOT text, `archc.backends.graphviz.write(graph, path)` writes a file.

    `depth` draws modules at that level as one node, `direction` is "TB" or "LR", `collapse`
    draws consecutive identical block instances once, marked ×N.
    """
    from archc.backends.graphviz import diagram

    return diagram(network(spec, inputs, block, **params), depth, direction, collapse)


def shapes(spec: SpecLike, inputs: InputShapes = None, depth: int | None = None,
           block: str | None = None, **params: Any) -> dict[str, Any]:
    """Spec → the shape report: name, inputs, outputs, params and per-layer rows."""
    from archc.report import shape_report

    return shape_report(network(spec, inputs, block, **params), depth)
