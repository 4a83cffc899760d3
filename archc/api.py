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
from types import CodeType
from typing import TYPE_CHECKING, Any

from archc.elaborate import Limits as Limits  # re-exported: the CLI and users set limits here
from archc.elaborate import elaborate, resized
from archc.errors import ArchcError, Source, Span, suggest
from archc.files import Terminated as Terminated  # re-exported for the CLI
from archc.files import atomic_write, read_spec
from archc.files import check_output as check_output
from archc.files import install_signal_handlers as install_signal_handlers
from archc.format import format_shape as format_shape  # the CLI says shapes as the API does
from archc.frontend import ast
from archc.frontend.expressions import max_tokens, token_limit
from archc.frontend.imports import resolve as resolve_imports
from archc.frontend.text import parse_text
from archc.frontend.yaml import parse_yaml
from archc.gcpause import collector_paused
from archc.ir import Network
from archc.names import MAX_NAME_LENGTH
from archc.ops import OPS, Op
from archc.version import VERSION as VERSION  # re-exported: archc --version

if TYPE_CHECKING:
    import graphviz
    import torch

SpecLike = str | os.PathLike[str] | Mapping[str, Any] | ast.Spec
InputShapes = Mapping[str, Sequence[int]] | Sequence[int] | None
SPEC_SUFFIXES = (".yaml", ".yml", ".arch")
TEXT_FORM = re.compile(r"\A(\s*#[^\n]*\n|\s)*network\b")
MAX_SPEC_BYTES = 1024 * 1024  # 6x the 10,000-layer benchmark spec; parsing more takes seconds
BYTES_PER_TOKEN = 50  # a spec read with more tokens allowed (--max-tokens) may be this much longer


def spec_bytes() -> int:
    """How long a spec file may be: MAX_SPEC_BYTES, or more under a raised token limit (a
    100,000-layer chain is 1.7 MB)."""
    return max(MAX_SPEC_BYTES, BYTES_PER_TOKEN * max_tokens())
DICT_PATH = "<dict>"


def is_path(spec: str | os.PathLike[str]) -> bool:
    """Whether `load` reads `spec` as a file: a Path (any os.PathLike), or a one-line str that
    ends in .yaml, .yml or .arch. Any other str is spec text, whatever files exist."""
    if isinstance(spec, os.PathLike):
        return True
    return "\n" not in spec and spec.endswith(SPEC_SUFFIXES)


def load(spec: SpecLike, limits: Limits | None = None, imports: bool = True) -> ast.Spec:
    """Parse a spec (within `limits.max_tokens`), with what it imports (archc.frontend.imports;
    `imports=False` gives the file as written, as fmt and convert print it). The API reads a
    file only when asked to:

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
        return _load(spec, imports)


def _load(spec: str | os.PathLike[str] | Mapping[str, Any], imports: bool = True) -> ast.Spec:
    if isinstance(spec, Mapping):
        return _no_imports(_load_mapping(spec))
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"a spec is a path, spec text, a dict or an ast.Spec, not "
                        f"{type(spec).__name__}")
    if isinstance(spec, os.PathLike) or is_path(spec):
        path = Path(spec)
        text = read_spec(path, spec_bytes())
        return _parse_file(path, text) if imports else _parse_written(path, text)
    try:
        return _no_imports(parse(spec, "<string>"))
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


def _parse_file(path: Path, text: str) -> ast.Spec:
    """A spec file's text → its AST with what it imports."""
    return resolve_imports(_parse_written(path, text), path, _parse_written, spec_bytes())


def _parse_written(path: Path, text: str) -> ast.Spec:
    """A spec file's text → its AST as written (its imports not read)."""
    return parse(text, str(path), default_name=default_name(path))


def imports_moved(spec: ast.Spec, old: Path, new: Path) -> ast.Spec:
    """A spec as written in folder `old`, its imports renamed to name the same files from
    folder `new` (where convert writes it)."""
    if old.resolve() == new.resolve():
        return spec
    moved = tuple(replace(item, path=Path(os.path.relpath(old.resolve() / item.path,
                                                          new.resolve())).as_posix())
                  for item in spec.imports)
    return replace(spec, imports=moved)


def _no_imports(spec: ast.Spec) -> ast.Spec:
    """A spec that is not a file cannot import: imports are read relative to their file."""
    if spec.imports:
        raise ArchcError("only a spec file can import: imports are read relative to the "
                         "importing file, and this spec is not one", spec.imports[0].span,
                         notes=["save the spec as a file beside the one it imports, and pass "
                                "its path"])
    return spec


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

    from archc.backends.torch import instantiate

    # the collector is paused for the whole build: parsing, generating and building
    # allocate objects that live until it returns, and its passes over them would be repeated
    # at each stage's end (freed by reference counting when build returns)
    with collector_paused():
        text, class_name, label, net, code = _generated(spec, inputs, block, params)
        if seed is None:
            module = instantiate(text, class_name, label, code)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                module = instantiate(text, class_name, label, code)
        if weights is not None:
            from archc.backends.artefacts import load_weights

            # the network only places a mismatch at its spec line, so a cached build
            # elaborates only when the checkpoint does not fit
            load_weights(module, Path(weights),
                         lambda: net or network(spec, inputs, block, **params))
    return module


# a spec that may import (a cheap test on its text; a spec that imports says `import`): its
# cache key needs the imported files
MAY_IMPORT = re.compile(r"\bimport\b")


def _generated(spec: SpecLike, inputs: InputShapes, block: str | None,
               params: dict[str, Any],
               ) -> tuple[str, str, str, Network | None, CodeType | None]:
    """The generated source of a build, its root class, a label for tracebacks, and the
    network and the compiled source if it was elaborated: from the source cache when this
    spec text was built before with the same block, parameters and inputs (archc.cache), else
    generated from that text and stored. A spec with a mistake is never stored, so its error
    is raised every time."""
    from archc import cache
    from archc.backends.python import generate_source

    name = None
    read: SpecLike = spec
    if isinstance(spec, str | os.PathLike) and cache.directory() is not None:
        path = Path(spec) if is_path(spec) else None
        text = read_spec(path, spec_bytes()) if path is not None else str(spec)
        imported: tuple[tuple[str, str], ...] = ()
        if path is not None and MAY_IMPORT.search(text):
            # the files it imports are part of what is built: they are read (and parsed)
            # first, and the key covers their text too
            with collector_paused(), token_limit(Limits().max_tokens):
                read = _parse_file(path, text)
            imported = tuple((source.path, source.text) for source in read.read)
        name = cache.key(str(path or "<string>"), text, block, params, _inputs(inputs),
                         imported)
        if name is not None:
            hit = cache.get(name)
            if hit is not None:
                return hit[0], hit[1], hit[1], None, None
        if path is not None and read is spec:  # elaborate the text the key was made from,
            with collector_paused(), token_limit(Limits().max_tokens):  # even if the file
                read = _parse_file(path, text)  # changes meanwhile
    net = network(read, inputs, block, **params)
    generated = generate_source(net, compiled=True)
    if name is not None:
        cache.put(name, generated.text, generated.class_name)
    return generated.text, generated.class_name, net.name, net, generated.code


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
    draws consecutive identical block instances once, marked ×N. A drawing Graphviz could not
    lay out in seconds (over 1,500 nodes) is refused with the depths that fit;
    `archc.api.diagram(archc.network(spec), laid_out=False).source` is its DOT text anyway.
    """
    from archc.backends.graphviz import diagram

    return diagram(network(spec, inputs, block, **params), depth, direction, collapse)


def report(net: Network, depth: int | None = None, dtype: str = "float32") -> dict[str, Any]:
    """An elaborated network → the shape report as JSON-ready data: name, inputs, outputs,
    totals, memory and per-layer rows (docs/analysis.md has the conventions)."""
    from archc.report import shape_report

    return shape_report(net, depth, dtype)


def min_input(net: Network, spec: SpecLike, inputs: InputShapes = None,
              block: str | None = None, limits: Limits | None = None, dtype: str = "float32",
              **params: Any) -> dict[str, Any] | None:
    """The smallest valid input size of `net` (elaborated from `spec` with these arguments)
    and the sizes that keep every strided op exact, as JSON-ready data; None when no input
    has spatial dims. It elaborates the spec at each size it tries, so parse `spec` once
    (`load`) and pass the AST."""
    from archc import analysis
    from archc.report import min_input_data

    tree = load(spec, limits)
    inference = _inference(tree, net) if block is None else None
    if inference is not None:  # the floor of eval, and the training outputs' own beside it
        at = network(inference, inputs, block, limits, **params)
        found = min_input(at, inference, inputs, block, limits, dtype, **params)
        training = min_input(replace(net, training_outputs=[], training_keyed=False), tree,
                             inputs, block, limits, dtype, **params)
        if found is not None and training is not None and \
                training["smallest"] != found["smallest"]:
            found["training"] = {"smallest": training["smallest"],
                                 "failure": training["failure"],
                                 "outputs": [name for name, _ in net.training_outputs]}
        return found
    sizes = {name: [d for d in net.node(i).shape[1:] if isinstance(d, int)]  # known dims
             for name, i in net.inputs.items()}
    reference = analysis.reference_input(net)
    searched = reference[0] if reference else ""

    def elaborate_at(shape: list[int]) -> Network:
        return network(tree, {**sizes, searched: shape}, block, limits, **params)

    memo: dict[tuple[Any, ...], Any] = {}  # nodes at the input shapes they were computed for

    def computed_at(shape: list[int]) -> Network:  # the same network, on its graph
        return resized(net, {searched: shape}, limits, memo)

    if net.sizes_read:  # its structure may change with the size: elaborate at each one
        searched_found = analysis.min_input(net, elaborate_at, dtype)
    else:
        searched_found = analysis.min_input(net, computed_at, dtype, elaborate=elaborate_at)
    return min_input_data(searched_found) if searched_found else None


def _inference(tree: ast.Spec, net: Network) -> ast.Spec | None:
    """The spec without the network's entries that only its training outputs need (an
    auxiliary classifier), which an inference never runs: what `min_input` searches for the
    eval floor. None when nothing is training-only, or when some of it is inside an entry
    that also computes outputs (the search then holds the whole network to every size)."""
    only = net.training_only
    if not only:
        return None
    kept, dropped = [], set()
    for entry in tree.body.entries:
        name = entry.name if isinstance(entry, ast.Named) else None
        nodes = set(net.members.get((name,), ())) if name else set()
        nodes |= {n.id for n in net.nodes() if name and n.name == name and not n.scope}
        if nodes and nodes <= only:
            dropped |= nodes
            continue
        kept.append(entry)
    if dropped != only:
        return None
    return replace(tree, body=replace(tree.body, entries=tuple(kept)), training_outputs=(),
                   training_output_keys=())


def shapes(spec: SpecLike, inputs: InputShapes = None, depth: int | None = None,
           block: str | None = None, *, dtype: str = "float32", with_min_input: bool = False,
           limits: Limits | None = None, **params: Any) -> dict[str, Any]:
    """Spec → the shape report (`report`); `with_min_input` adds the input-size search
    under "min_input" (what `archc shapes --min-input` prints)."""
    tree = load(spec, limits)
    net = network(tree, inputs, block, limits, **params)
    data = report(net, depth, dtype)
    if with_min_input:
        data["min_input"] = min_input(net, tree, inputs, block, limits, dtype, **params)
    return data


def report_columns(text: str) -> tuple[str, ...]:
    """The table columns a comma-separated list names ("all" for every one); ValueError
    names an unknown one."""
    from archc.report import parse_columns

    return parse_columns(text)


def print_report(data: dict[str, Any], columns: Sequence[str] = ("op", "shape", "params",
                                                                 "macs")) -> None:
    """The shape report as tables on standard output (what `archc shapes` prints)."""
    from archc.report import Terminal, render_min_input, render_table

    out = Terminal.standard_output()
    render_table(data, out, columns)
    if "min_input" in data:
        if data["min_input"] is None:
            out.print("min input: the network has no input with spatial dims")
        else:
            render_min_input(data["min_input"], out)


def warnings(net: Network) -> list[ArchcError]:
    """What is legal but probably not meant (a bias a batch norm cancels, rows a strided
    window never reads, an unused side path): located, never raised."""
    from archc.lint import lint

    return list(lint(net))


# ------------------------------------------------------------------ files the CLI writes

FORMATS = {".pt": "TorchScript", ".py": "PyTorch source", ".pt2": "torch.export program",
           ".onnx": "ONNX"}  # the compiled artefacts, by extension


def write(net: Network, target: Path, weights: str | os.PathLike[str] | None = None,
          seed: int | None = None) -> list[str]:
    """Write `net` compiled to the format `target`'s extension names (FORMATS) atomically:
    no partial file is ever left. `.py` is the readable source and needs no torch; the
    others are built (seeded by `seed`, a checkpoint `weights` loaded strictly) first.
    Returns notes for the user (how a checkpoint was made to fit)."""
    if target.suffix not in FORMATS:
        raise ArchcError(f"unknown output format {target.suffix!r}", expected=", ".join(FORMATS))
    if target.suffix == ".py":
        from archc.backends.python import generate_source

        if weights is not None or seed is not None:
            raise ArchcError("a .py file holds no weights; weights and seeds apply to .pt, "
                             ".pt2 and .onnx")
        write_text(target, generate_source(net).text)
        return []
    return _write_artefact(net, target, weights, seed)


def _write_artefact(net: Network, target: Path, weights: str | os.PathLike[str] | None,
                    seed: int | None) -> list[str]:
    import torch

    from archc.backends import artefacts
    from archc.backends.torch import build_module

    if seed is not None:
        torch.manual_seed(seed)
    module = build_module(net)
    notes = artefacts.load_weights(module, Path(weights), net) if weights is not None else []
    if target.suffix == ".pt":
        artefacts.write_torchscript(module, target, net)
    elif target.suffix == ".onnx":
        artefacts.write_onnx(module, net, target)
    else:
        artefacts.write_export(module, net, target)
    return notes


def write_text(target: Path, text: str) -> None:
    """Write text in UTF-8 through a temporary file renamed over `target`."""
    def write(path: Path) -> None:
        path.write_bytes(text.encode("utf-8"))

    atomic_write(target, write)


def read_text(path: Path) -> str:
    """A spec file's text (a regular file of at most MAX_SPEC_BYTES)."""
    return read_spec(path, MAX_SPEC_BYTES)


def print_spec(tree: ast.Spec, spelling: str) -> str:
    """An AST in the canonical layout of a spelling, "arch" or "yaml", comments kept."""
    from archc.frontend.printer import print_text, print_yaml

    return print_text(tree) if spelling == "arch" else print_yaml(tree)


def diagram(net: Network, depth: int | None = None, direction: str = "TB",
            collapse: bool = True, laid_out: bool = True) -> graphviz.Digraph:
    """An elaborated network → its diagram (see `draw`); `laid_out=False` for one that is
    only written as DOT text (no bound on its size)."""
    from archc.backends.graphviz import diagram as make

    return make(net, depth, direction, collapse, laid_out)


def write_diagram(graph: graphviz.Digraph, target: Path) -> None:
    """Render a diagram to .svg, .png or .pdf with Graphviz, or write its .dot text."""
    from archc.backends.graphviz import write as render

    render(graph, target)


def diagram_formats() -> dict[str, str]:
    from archc.backends.graphviz import FORMATS as DIAGRAMS

    return DIAGRAMS


def ops() -> Mapping[str, Op]:
    """The registry: every op a spec can use, by name."""
    return OPS


def op_reference() -> str:
    """The op reference as Markdown (docs/ops.md)."""
    from archc.ops.reference import markdown

    return markdown()
