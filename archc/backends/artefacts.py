"""nn.Module → files: TorchScript (.pt) and torch.export (.pt2), written atomically.

Input: a module built from the IR and example input shapes. Output: a file on disk. TorchScript
is deprecated in torch ≥ 2.10 and warns; users still ask for it, so the warning is kept out of
their output here and torch.export is offered beside it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from archc.files import atomic_write as atomic_write  # re-exported: cli.py writes .py with it
from archc.ir import Network


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """torch.jit.script without the deprecation warning reaching the user."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated.*")
        warnings.filterwarnings("ignore", message=r".*TorchScript.*deprecated.*")
        return torch.jit.script(module)


def example_inputs(network: Network, batch: int = 2) -> tuple[torch.Tensor, ...]:
    shapes = [[d for d in network.node(i).shape[1:] if d is not None]
              for i in network.inputs.values()]
    return tuple(torch.randn(batch, *shape) for shape in shapes)


def write_torchscript(module: torch.nn.Module, path: Path, network: Network) -> None:
    scripted = script(module.eval())

    def write(target: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(scripted, str(target), _extra_files=extra_files(network))

    atomic_write(path, write)


def export(module: torch.nn.Module, network: Network) -> torch.export.ExportedProgram:
    """torch.export with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    inputs = example_inputs(network)
    shapes = tuple({0: batch} for _ in inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(module.eval(), inputs, dynamic_shapes=shapes)


def write_export(module: torch.nn.Module, network: Network, path: Path) -> None:
    program = export(module, network)
    atomic_write(path, lambda target: torch.export.save(program, str(target),
                                                        extra_files=extra_files(network)))


def metadata(network: Network) -> dict[str, str]:
    """What traces an artefact back to its spec: name, archc version, hash of the spec text."""
    import hashlib

    import archc

    source = next((n.span.source for n in network.nodes() if n.span.source is not None), None)
    text = source.text if source is not None else ""
    return {
        "spec": network.name,
        "spec_path": source.path if source is not None else "",
        "spec_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "archc_version": archc.__version__,
    }


def extra_files(network: Network) -> dict[str, str]:
    import json

    return {"archc.json": json.dumps(metadata(network), sort_keys=True)}


def load_weights(module: torch.nn.Module, path: Path, network: Network) -> None:
    """Load a checkpoint strictly: a plain state_dict, or one under `state_dict` / `model`
    (the usual wrappers), with DDP's `module.` prefix removed. Anything that does not fit is
    one located ArchcError listing missing, unexpected and mismatched keys."""
    from archc.errors import ArchcError, suggest

    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArchcError(f"no such checkpoint: {path}") from None
    except Exception as error:  # torch raises many kinds for files that are not checkpoints
        raise ArchcError(f"cannot read the checkpoint {path}: {error}".splitlines()[0]) from None
    for key in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ArchcError(f"{path} holds no state_dict",
                         expected="a dict of tensors (or one under 'state_dict' or 'model')")
    notes = []
    if loaded and all(k.startswith("module.") for k in loaded):
        loaded = {k[len("module."):]: v for k, v in loaded.items()}
        notes.append("removed the 'module.' prefix DistributedDataParallel adds")
    own = module.state_dict()
    missing = [k for k in own if k not in loaded]
    unexpected = [k for k in loaded if k not in own]
    mismatched = [f"{k}: checkpoint {list(loaded[k].shape)} vs model {list(own[k].shape)}"
                  for k in own if k in loaded and hasattr(loaded[k], "shape")
                  and tuple(loaded[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        first = (missing or [m.split(":")[0] for m in mismatched] or [""])[0]
        owner = tuple(first.split(".")[:-1])
        while owner and owner not in network.modules:
            owner = owner[:-1]
        span = network.modules[owner].span if owner in network.modules else network.modules[
            ()].span
        lines = [f"missing from the checkpoint: {', '.join(missing[:8])}"
                 + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")] if missing else []
        for key in unexpected[:8]:
            close = suggest(key, own)
            lines.append(f"unexpected in the checkpoint: {key}"
                         + (f" (did you mean {close[0]}?)" if close else ""))
        lines += [f"shape mismatch: {m}" for m in mismatched[:8]]
        raise ArchcError(f"the checkpoint {path} does not fit {network.name}", span,
                         notes=[*notes, *lines])
    module.load_state_dict(loaded, strict=True)
