"""Writing files: atomically, so a failed or interrupted write never leaves half a file.

Input: a path and a function that writes to a given path. Output: the file, replaced in one
rename. No torch import (the diagram and source paths use it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


def check_output(path: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output that would overwrite an input, or that names a missing folder."""
    from archc.errors import ArchcError

    target = path.resolve()
    for source in inputs:
        if source.exists() and target == source.resolve():
            raise ArchcError(f"refusing to overwrite the input {source} with the output",
                             notes=["choose another -o"])
    if not target.parent.is_dir():
        raise ArchcError(f"the folder {path.parent} does not exist",
                         notes=[f"create it first: mkdir -p {path.parent}"])
    if target.is_dir():
        raise ArchcError(f"{path} is a folder, not a file")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.",
                                         suffix=f".tmp{path.suffix}")
    os.close(handle)
    try:
        write(Path(temporary))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
