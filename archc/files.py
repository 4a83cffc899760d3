"""Reading specs and writing outputs without ever losing data.

Input: a spec path to read, or an output path with the inputs it must not overwrite and a
function that writes to a given path. Output: the spec's text (regular files only, at most a
given number of bytes, read from the opened descriptor so that nothing blocks or reads
forever), or the output file replaced in one rename: a failed, interrupted (SIGINT, SIGTERM)
or killed write never leaves half a file, and never touches an input.

Temporaries are named `.NAME.archc-tmp-PID-RANDOM` beside the output, so one left behind by
SIGKILL is recognisable; the next write into that folder removes those whose process is gone.
No torch import (the diagram and source paths use this module).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from archc.errors import ArchcError

TEMP_MARK = ".archc-tmp-"
# `.` NAME `.archc-tmp-` PID `-` RANDOM: only names of exactly this form are ever removed
TEMP_NAME = re.compile(r"\A\..*\.archc-tmp-(\d{1,10})-[0-9a-f]{8}\Z", re.DOTALL)
NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


class Terminated(BaseException):
    """A signal (SIGTERM, SIGHUP; SIGINT in the CLI) turned into an exception, so that
    `finally` and cleanup code run. A BaseException like KeyboardInterrupt: `except
    Exception` does not swallow it."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name if signum in set(signal.Signals) else str(signum)
        super().__init__(f"{'interrupted' if name == 'SIGINT' else 'terminated'} ({name})")
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """For a whole process (the CLI): SIGINT, SIGTERM and SIGHUP raise Terminated instead of
    killing the process outright, so that temporaries are removed on the way out and the
    exit status says which signal it was. Signals set to be ignored stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, _raise_terminated)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """While a temporary exists: signals that would kill the process raise instead, so the
    temporary is removed. Handlers a caller installed itself are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum, handler in previous.items():
        if handler is signal.SIG_DFL:
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                          else _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is signal.SIG_DFL:
                signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold signals back for a few system calls (creating or removing a temporary), so that
    no handler runs between creating a file and remembering its name; they arrive after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _same_file(a: Path, b: Path) -> bool:
    """The same file whatever the spelling: symlinks, `..`, hard links, case-folding."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: Path, inputs: Sequence[Path | None]) -> None:
    """Refuse an output that would overwrite an input (the spec, a checkpoint, ...), however
    spelt, or that names a missing folder, a folder, or a name too long for a file."""
    target = Path(os.path.realpath(path))
    if len(os.fsencode(target.name)) > NAME_MAX:
        raise ArchcError(f"the output file name is too long ({len(os.fsencode(target.name))} "
                         f"bytes; file systems allow {NAME_MAX})", notes=["choose a shorter -o"])
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise ArchcError(f"refusing to overwrite the input {source} with the output {path}",
                             notes=["choose another -o"])
    try:
        has_folder, is_folder = target.parent.is_dir(), target.is_dir()
    except OSError as error:  # a name too long, a loop of symlinks, ...
        raise ArchcError(f"cannot write {path}: {error.strerror or error}") from None
    if not has_folder:
        raise ArchcError(f"the folder {path.parent} does not exist",
                         notes=[f"create it first: mkdir -p {path.parent}"])
    if is_folder:
        raise ArchcError(f"{path} is a folder, not a file")


def read_spec(path: Path, limit: int) -> str:
    """The text of a spec file: a regular file (not a FIFO, device, folder or socket) of at
    most `limit` bytes, in UTF-8. The limit applies to what is read, not to what stat says."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ArchcError(f"no such spec file: {path}") from None
    except IsADirectoryError:
        raise ArchcError(f"{path} is a folder, not a spec file") from None
    except OSError as error:  # a socket (ENXIO), no permission, ...
        raise ArchcError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise ArchcError(f"{path} is a folder, not a spec file")
        if not stat.S_ISREG(mode):
            raise ArchcError(f"{path} is not a regular file, so archc does not read it as a "
                             "spec", notes=["a FIFO, device or socket could block or never end; "
                                            "save the spec to a file"])
        # a regular file never blocks; clear O_NONBLOCK anyway so reads are ordinary
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ArchcError(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if size > limit:
        raise ArchcError(f"{path}: spec file too large (more than {limit:,} bytes)",
                         notes=["to read a longer spec, raise its token limit: archc "
                                "--max-tokens N allows 50 bytes a token"])
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArchcError(f"cannot read {path}: it is not UTF-8 text (byte {error.start})",
                         notes=["save the spec as UTF-8"]) from None


def _temporary_name(name: str) -> str:
    """`.NAME.archc-tmp-PID-RANDOM`, NAME shortened (at a character boundary) so that the
    whole stays within one file name's 255 bytes."""
    tail = f"{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    room = NAME_MAX - 1 - len(tail)
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = encoded[:room].decode("utf-8", errors="ignore") or "out"
    return f".{name}{tail}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or unknowable: keep its file
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove temporaries that an archc killed by SIGKILL left in `folder`: names of archc's
    form only, regular files owned by this user, whose process no longer runs."""
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if TEMP_MARK not in name:
            continue
        match = TEMP_NAME.match(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        path = folder / name
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or (hasattr(os, "geteuid")
                                                  and info.st_uid != os.geteuid()):
                continue
            path.unlink()
            removed.append(path)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file beside the output, then rename it over the output.

    A symlink is written through (its target is replaced, the link stays); an existing
    file keeps its permission bits, a new one gets the umask's. On any failure, SIGINT or
    SIGTERM the temporary is removed and the output left as it was; an OSError becomes an
    ArchcError naming the output."""
    target = Path(os.path.realpath(path))
    folder = target.parent
    remove_stale_temporaries(folder)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    temporary: Path | None = None
    with _interruptible():
        try:
            with _signals_blocked():
                for _ in range(100):
                    # named before it is created: blocking holds signals back from this thread
                    # only, and one that torch's threads take runs its handler here all the
                    # same, so an interrupt may come between creating and naming. The name
                    # holds this process's pid, so removing it never removes another's file.
                    temporary = folder / _temporary_name(target.name)
                    try:
                        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                         0o600))
                    except FileExistsError:
                        temporary = None
                        continue
                    break
                else:
                    raise FileExistsError(f"no free temporary name in {folder}")
            write(temporary)
            with open(temporary, "rb+") as handle:  # on disk before it takes the name
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, target)
            temporary = None
        except OSError as error:
            raise ArchcError(f"cannot write {path}: {error.strerror or error}") from None
        finally:
            if temporary is not None:
                with _signals_blocked():
                    temporary.unlink(missing_ok=True)
