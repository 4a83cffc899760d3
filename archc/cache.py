"""The source cache: what `archc.build` generated for a spec, kept on disk so that building
the same spec again (in this process or a later one) skips parsing, elaboration and codegen.

Input: a key made from everything the generated source depends on (archc's own code, the
spec's text and where it was read from, the block, the parameters and the input shapes), and
the generated source. Output: that source again for the same key, or None.

Why a cache: a training script builds the same spec every time it starts. Elaboration and
codegen are pure functions of the key, so their result can be reused exactly as Python reuses
bytecode in __pycache__. The source is the same text `archc compile -o x.py` writes.

Where: $ARCHC_CACHE_DIR, else $XDG_CACHE_HOME/archc, else ~/.cache/archc; ARCHC_CACHE=0 turns
it off. Entries are source that build runs, so a folder or entry that another user could
write is never read (as ssh treats keys). An entry is one JSON file named after its key,
written atomically, holding the text and its sha256: a truncated or edited entry is ignored
and rewritten. archc's identity in the
key is its version and the size and modification time of every file in the package, so an
upgrade or an edit to archc never reuses source an older archc wrote. At most MAX_ENTRIES are
kept; the least recently used go first. A cache that cannot be read or written (read-only
home, full disk) is skipped silently: the cache only ever saves time. No torch import.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archc.version import VERSION

FORMAT = 1  # the layout of an entry; part of the key
MAX_ENTRIES = 256
PACKAGE = Path(__file__).resolve().parent


def directory() -> Path | None:
    """Where entries are kept, or None when the cache is off."""
    if os.environ.get("ARCHC_CACHE", "1").strip().lower() in ("0", "off", "no", "false"):
        return None
    configured = os.environ.get("ARCHC_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "archc"


@functools.cache
def identity() -> str:
    """archc's version and the size and modification time of each of its files (as pyc files
    are validated): which archc generated an entry."""
    digest = hashlib.sha256(f"{VERSION}\0{FORMAT}".encode())
    for root, folders, files in os.walk(PACKAGE):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".lark")):
                info = os.stat(os.path.join(root, name))
                relative = os.path.relpath(os.path.join(root, name), PACKAGE)
                digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def typed(value: Any, items: int | None = None) -> Any:
    """A value as a hashable key that keeps its Python type, so that what Python calls equal
    stays apart (1, 1.0 and True; 0.0 and -0.0): nested tuples of a type name and a repr,
    which also dump as JSON. TypeError for a value of another kind, and for one with more
    than `items` list items in all (nested ones counted), so that keying stays cheap."""
    room = [items]

    def of(item: Any) -> Any:
        if item is None or isinstance(item, (bool, int, float, str)):
            return type(item).__name__, repr(item)
        if isinstance(item, (list, tuple)):
            if room[0] is not None:
                room[0] -= len(item)
                if room[0] < 0:
                    raise TypeError("too many items to key on")
            return type(item).__name__, tuple(of(v) for v in item)
        if isinstance(item, Mapping) and all(isinstance(k, str) for k in item):
            return "dict", tuple((k, of(v)) for k, v in sorted(item.items()))
        raise TypeError(type(item).__name__)

    return of(value)


def key(origin: str, text: str, block: str | None, params: Mapping[str, Any],
        inputs: Mapping[str, Sequence[int]] | None,
        imported: Sequence[tuple[str, str]] = ()) -> str | None:
    """The key of one build: `origin` is the path the text was read from (or `<string>`),
    `imported` the path and text of every file it imports (a change to one is a new build).
    None when a parameter or input is of a kind the cache does not key on."""
    try:
        described = json.dumps({
            "archc": identity(), "origin": origin, "text": text, "block": block,
            "imported": [list(pair) for pair in imported],
            "params": typed(dict(params)),
            "inputs": None if inputs is None else typed(
                {name: list(shape) for name, shape in inputs.items()}),
        }, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(described.encode()).hexdigest()


def _entry(folder: Path, name: str) -> Path:
    return folder / f"{name}.json"


def get(name: str) -> tuple[str, str] | None:
    """The (source text, root class name) stored under `name`, or None."""
    folder = directory()
    if folder is None:
        return None
    path = _entry(folder, name)
    try:
        if not _trusted(os.stat(folder)):
            return None
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, encoding="utf-8") as file:
            if not _trusted(os.fstat(descriptor)):
                return None
            entry = json.load(file)
        text, class_name = entry["text"], entry["class_name"]
        if not (isinstance(text, str) and isinstance(class_name, str)
                and entry.get("sha256") == hashlib.sha256(text.encode()).hexdigest()
                and class_name.isidentifier()):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruning keeps it
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return text, class_name


def _trusted(info: os.stat_result) -> bool:
    """Whether only this user can have written a folder or entry: an entry is source that
    build runs, so one that another user could write (a shared or world-writable cache folder)
    is never read, as ssh refuses keys others can write."""
    if not hasattr(os, "getuid"):
        return True  # Windows: the user's profile folder is the user's by its ACL
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def put(name: str, text: str, class_name: str) -> None:
    """Store a build's source under `name` (atomically; silently not, if the folder cannot be
    written)."""
    folder = directory()
    if folder is None:
        return
    entry = json.dumps({"format": FORMAT, "archc": VERSION, "class_name": class_name,
                        "sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text})
    temporary = None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".entry-", suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(entry)
        os.replace(temporary, _entry(folder, name))
        temporary = None
        _prune(folder)
    except OSError:
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def entries(folder: Path) -> list[Path]:
    """The entries in `folder`, least recently used first."""
    found = []
    with contextlib.suppress(OSError):
        for item in os.scandir(folder):
            if item.name.endswith(".json") and item.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    found.append((item.stat().st_mtime_ns, item.name))
    return [folder / name for _, name in sorted(found)]


def _prune(folder: Path) -> None:
    """Keep the MAX_ENTRIES most recently used entries, and remove temporaries a killed
    process left behind (an hour old: no write takes that long)."""
    for stale in entries(folder)[:-MAX_ENTRIES]:
        with contextlib.suppress(OSError):
            stale.unlink()
    now = time.time()
    with contextlib.suppress(OSError):
        for item in os.scandir(folder):
            if item.name.startswith(".entry-") and item.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if now - item.stat(follow_symlinks=False).st_mtime > 3600:
                        os.unlink(item.path)


def clear() -> int:
    """Remove every entry; how many there were."""
    folder = directory()
    if folder is None:
        return 0
    removed = 0
    for path in entries(folder):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed
