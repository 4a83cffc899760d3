"""nn.Module → files: TorchScript (.pt), torch.export (.pt2) and ONNX (.onnx), written
atomically, each carrying `archc.json` (spec name, archc version, spec hash); and checkpoints
→ a built module, loaded strictly with a located report when they do not fit.

Input: a module built from the IR and example input shapes. Output: a file on disk. TorchScript
is deprecated in torch ≥ 2.10 and warns; users still ask for it, so the warning is kept out of
their output here and torch.export is offered beside it. ONNX needs the optional `onnx` extra.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import torch

from archc.dims import BATCH, Symbol, is_static
from archc.errors import Span
from archc.files import atomic_write as atomic_write  # re-exported: cli.py writes .py with it
from archc.ir import Network


class _SortedSet(set[Any]):
    """A set that iterates in sorted order. torch.jit collects a module's constants
    (`__constants__` and `Final` attributes) in a plain set of names and compiles them in
    its iteration order, which follows the string hash and so changes with every process
    (PYTHONHASHSEED): the generated TorchScript code, its CRC and the file's serialization id
    then differ from run to run. Sorted, the same module gives the same bytes."""

    def __iter__(self) -> Iterator[Any]:
        return iter(sorted(set.__iter__(self), key=str))


@contextlib.contextmanager
def _ordered_jit_sets() -> Iterator[None]:
    """torch.jit._recursive's `set` as _SortedSet while scripting (it names `set` as a global,
    so this changes only its own sets, of str names, and only for the call)."""
    from torch.jit import _recursive

    had = "set" in vars(_recursive)
    previous = vars(_recursive).get("set")
    _recursive.set = _SortedSet  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if had:
            _recursive.set = previous  # type: ignore[attr-defined]
        else:
            del _recursive.set  # type: ignore[attr-defined]


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """torch.jit.script without the deprecation warning reaching the user, and with the
    constants of each module in a reproducible order."""
    with warnings.catch_warnings(), _ordered_jit_sets():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated.*")
        warnings.filterwarnings("ignore", message=r".*TorchScript.*deprecated.*")
        return torch.jit.script(module)


DYNAMIC_MAX = 1 << 16  # the largest size an exported dynamic dim takes (without a bound)


def _example_size(symbol: Symbol, batch: int) -> int:
    """The size a symbol has in example inputs: `batch` for the batch; for another the
    smallest within its bounds that is at least 2 (tracing specialises sizes 0 and 1)."""
    if symbol == BATCH:
        return batch
    size = max(symbol.low, 2)
    return size if symbol.high is None else min(size, symbol.high)


def example_inputs(network: Network, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """Inputs for tracing (torch.export, ONNX): drawn from a generator of their own with a
    fixed seed, so they are the same in every run and the caller's random state is left as
    it was. Each symbol (the batch first) takes its `_example_size`."""
    shapes = [[d if is_static(d) else _example_size(d, batch) for d in network.node(i).shape]
              for i in network.inputs.values()]
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*shape, generator=generator) for shape in shapes)


def dynamic_shapes(network: Network) -> tuple[dict[int, Any], ...]:
    """torch.export's `dynamic_shapes` for the inputs: every symbol a dynamic dim within its
    bounds, one `torch.export.Dim` per symbol so that inputs sharing a symbol share a size;
    the batch is named `batch`."""
    dims: dict[Symbol, Any] = {}

    def dim(symbol: Symbol) -> Any:
        if symbol not in dims:
            name = "batch" if symbol == BATCH else symbol.name
            high = DYNAMIC_MAX if symbol.high is None else symbol.high
            dims[symbol] = torch.export.Dim(name, min=symbol.low, max=high)
        return dims[symbol]

    return tuple({axis: dim(d) for axis, d in enumerate(network.node(i).shape)
                  if isinstance(d, Symbol)} for i in network.inputs.values())


def _to_file(save: Callable[[BinaryIO], None]) -> Callable[[Path], None]:
    """A writer for atomic_write that saves through an open file, not a path. Given a path,
    torch names the zip archive's top folder after the file (here the random temporary),
    so the same model gave different bytes each time; given a file, it is always `archive`."""

    def write(target: Path) -> None:
        with open(target, "wb") as handle:
            save(handle)

    return write


def write_torchscript(module: torch.nn.Module, path: Path, network: Network) -> None:
    scripted = script(module.eval())

    def save(handle: BinaryIO) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(scripted, handle, _extra_files=extra_files(network))

    atomic_write(path, _to_file(save))


def export(module: torch.nn.Module, network: Network) -> torch.export.ExportedProgram:
    """torch.export with a dynamic batch dimension."""
    inputs, shapes = example_inputs(network), dynamic_shapes(network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module.eval(), inputs, dynamic_shapes=shapes)


def write_export(module: torch.nn.Module, network: Network, path: Path) -> None:
    program = export(module, network)
    atomic_write(path, _to_file(lambda handle: torch.export.save(
        program, handle, extra_files=extra_files(network))))


def metadata(network: Network) -> dict[str, Any]:
    """What traces an artefact back to its spec: its name, the archc version, the sha256 of the
    spec's text (UTF-8 as read, line endings normalised to \\n: the file's bytes for a usual
    spec file) and the parameter values and input shapes it was built with."""
    import hashlib

    from archc.version import VERSION

    source = network.modules[()].span.source or next(
        (n.span.source for n in network.nodes() if n.span.source is not None), None)
    text = source.text if source is not None else ""
    return {
        "spec": network.name,
        "spec_path": source.path if source is not None else "",
        "spec_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "archc_version": VERSION,
        "params": network.params,
        # each input's dims after the batch, any other symbol by its name (as JSON reports)
        "inputs": {name: [d if is_static(d) else str(d) for d in network.node(i).shape[1:]]
                   for name, i in network.inputs.items()},
    }


def extra_files(network: Network) -> dict[str, str]:
    """The metadata as the one extra file `archc.json` (TorchScript and torch.export)."""
    return {"archc.json": json.dumps(metadata(network), sort_keys=True, default=str)}


ONNX_LIMIT = 2**31 - 2**24  # protobuf's 2 GiB, less room for the graph itself


def write_onnx(module: torch.nn.Module, network: Network, path: Path) -> None:
    """ONNX through torch.onnx's dynamo exporter, with a dynamic batch dimension, the spec's
    input and output names, and the metadata as the model's `archc.json` property."""
    from archc.errors import ArchcError

    try:
        import onnx  # noqa: F401  (torch.onnx needs both; a clear message beats its own)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ArchcError("writing ONNX needs the onnx extra: pip install 'archc[onnx]'",
                         notes=["it installs onnx, onnxscript and onnxruntime"]) from None
    size = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    if size >= ONNX_LIMIT:
        # past 2 GB torch.onnx writes the weights to a second file named after the temporary
        # one, which the rename would leave behind and the model would point to
        raise ArchcError(f"the weights of {network.name} take {size / 2**30:.1f} GiB; a single "
                         "ONNX file holds less than 2 GiB", notes=["use -o NAME.pt2 "
                                                                   "(torch.export) instead"])
    inputs, shapes = example_inputs(network), dynamic_shapes(network)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module.eval(), inputs, dynamo=True, dynamic_shapes=shapes, verbose=False,
            input_names=list(network.inputs), output_names=[n for n, _ in network.outputs],
        )
    assert program is not None
    program.model.metadata_props.update(extra_files(network))
    atomic_write(path, lambda target: program.save(str(target), external_data=False))


def _checkpoint(path: Path) -> dict[str, Any]:
    """The state_dict in a checkpoint file: plain, or under `state_dict` / `model`."""
    from archc.errors import ArchcError

    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArchcError(f"no such checkpoint: {path}") from None
    except Exception as error:  # torch raises many kinds for files that are not checkpoints
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ArchcError(f"cannot read the checkpoint {path}", found=first, notes=[
            "archc loads checkpoints with weights_only=True and never unpickles other objects: "
            "save model.state_dict(), not the model"]) from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ArchcError(f"{path} holds no state_dict",
                         expected="a dict of tensors (or one under 'state_dict' or 'model')",
                         found=type(loaded).__name__)
    return loaded


def _owner(network: Network, key: str) -> Span:
    """The spec text that made the module owning a state_dict key (its longest known path)."""
    owner = tuple(key.split(".")[:-1])
    while owner and owner not in network.modules:
        owner = owner[:-1]
    return network.modules[owner].span


DDP_PREFIX = "module."


def _without_ddp_prefix(loaded: dict[str, Any], own: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint's keys without DistributedDataParallel's `module.` prefix, when removing
    it makes them fit the model better; None to keep them as they are. Every key starting
    with `module.` is not enough: a network whose entry is named `module` saves such keys
    itself, and must load them unchanged."""
    if not loaded or not all(k.startswith(DDP_PREFIX) for k in loaded):
        return None
    stripped = {k[len(DDP_PREFIX):]: v for k, v in loaded.items()}
    fit_as_is = sum(k in own for k in loaded)
    fit_stripped = sum(k in own for k in stripped)
    if fit_stripped > fit_as_is:
        return stripped
    if fit_stripped == fit_as_is and not (own and all(k.startswith(DDP_PREFIX) for k in own)):
        return stripped  # fits neither way: report the keys as the model would name them
    return None


def load_weights(module: torch.nn.Module, path: Path,
                 network: Network | Callable[[], Network]) -> list[str]:
    """Load a checkpoint strictly: a plain state_dict, or one under `state_dict` / `model`
    (the usual wrappers), with DDP's `module.` prefix removed when that makes it fit.
    Anything that does not fit is one ArchcError at the spec line of the first module
    concerned, listing missing, unexpected and mismatched keys, each with its spec line.
    Returns notes for the user. `network` may be a function that elaborates it: it is only
    needed to place a mismatch."""
    from archc.errors import ArchcError, suggest

    loaded = _checkpoint(path)
    notes = []
    own = module.state_dict()
    stripped = _without_ddp_prefix(loaded, own)
    if stripped is not None:
        loaded = stripped
        notes.append("removed the 'module.' prefix that DistributedDataParallel adds")
    missing = [k for k in own if k not in loaded]
    unexpected = [k for k in loaded if k not in own]
    mismatched = [k for k in own if k in loaded and (
        not isinstance(loaded[k], torch.Tensor) or loaded[k].shape != own[k].shape)]
    if not (missing or unexpected or mismatched):
        module.load_state_dict(loaded, strict=True)
        return notes
    net = network if isinstance(network, Network) else network()

    def at(key: str) -> str:
        span = _owner(net, key)
        return f" ({span})" if span.line else ""

    def shape(value: Any) -> str:
        return str(list(value.shape)) if isinstance(value, torch.Tensor) else type(
            value).__name__

    limit = 8
    lines = [f"missing from the checkpoint: {k}{at(k)}" for k in missing[:limit]]
    for key in unexpected[:limit]:
        close = suggest(key, own, limit=1)
        lines.append(f"unexpected in the checkpoint: {key}"
                     + (f" (did you mean {close[0]}?)" if close else ""))
    lines += [f"shape mismatch: {k}: checkpoint {shape(loaded[k])} vs model "
              f"{list(own[k].shape)}{at(k)}" for k in mismatched[:limit]]
    hidden = sum(max(0, len(group) - limit) for group in (missing, unexpected, mismatched))
    if hidden:
        lines.append(f"and {hidden} more")
    counts = [f"{len(group)} {what}" for group, what in (
        (missing, "missing"), (unexpected, "unexpected"), (mismatched, "mismatched")) if group]
    first = (mismatched or missing or [""])[0]
    if not first and unexpected:
        close = suggest(unexpected[0], own, limit=1)
        first = close[0] if close else ""
    raise ArchcError(f"the checkpoint {path} does not fit {net.name}: "
                     + ", ".join(counts) + " keys", _owner(net, first),
                     notes=[*notes, *lines, "to load all but some layers (a new classifier), "
                            "see examples/finetune_checkpoint.py"])
