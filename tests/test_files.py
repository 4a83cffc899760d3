"""Reading specs and writing outputs (archc/files.py), through the CLI and real processes:
only regular files are read, within a limit on what is read; temporaries are bounded in
name, removed on SIGINT and SIGTERM, recognisable after SIGKILL and removed by the next run;
modes and symlinks are kept."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import archc
from archc.files import TEMP_NAME, atomic_write, read_spec, remove_stale_temporaries
from tests.conftest import ROOT, run_cli

MLP = ROOT / "specs" / "mlp.yaml"
VGG16 = ROOT / "specs" / "torchvision" / "vgg16.yaml"  # ~550 MB of weights: a long write
HANG = 120  # seconds: a bound against hangs on a loaded machine, not a speed assertion


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".archc-tmp-" in p.name)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------ reading specs


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    # a subprocess, so that a regression (blocking on open or read) is a timeout, not a hang
    result = subprocess.run([sys.executable, "-m", "archc", "check", str(fifo)], cwd=ROOT,
                            capture_output=True, text=True, timeout=HANG, check=False)
    assert result.returncode == 1
    assert "is not a regular file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["check", "shapes", "compile", "draw", "fmt", "convert"])
def test_dev_zero_is_refused_by_every_command(command: str, tmp_path: Path) -> None:
    args = [command, "/dev/zero"]
    if command == "convert":
        args += ["--to", "arch"]
    if command in ("compile", "draw"):
        args += ["-o", str(tmp_path / ("m.py" if command == "compile" else "m.dot"))]
    if command == "fmt":
        link = tmp_path / "zero.yaml"  # fmt picks the spelling from the extension
        link.symlink_to("/dev/zero")
        args = ["fmt", str(link)]
    result = subprocess.run([sys.executable, "-m", "archc", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=HANG, check=False)
    assert result.returncode == 1, result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "zero.yaml"])


def test_a_folder_and_a_socket_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "net.yaml"
    folder.mkdir()
    with pytest.raises(archc.ArchcError, match="is a folder, not a spec file"):
        archc.network(folder)
    sock_path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        with pytest.raises(archc.ArchcError, match=r"cannot read .*s\.yaml"):
            archc.network(sock_path)
        code, _, err = run_cli("check", str(sock_path))
        assert code == 1 and "cannot read" in err


def test_the_size_limit_applies_to_what_is_read_not_to_stat(tmp_path: Path) -> None:
    proc = Path("/proc/self/status")  # a regular file that stat says is 0 bytes long
    if not proc.exists():
        pytest.skip("no /proc")
    assert os.stat(proc).st_size == 0
    with pytest.raises(archc.ArchcError, match="too large"):
        read_spec(proc, 16)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 101)
    with pytest.raises(archc.ArchcError, match="more than 100 bytes"):
        read_spec(big, 100)
    assert read_spec(big, 101) == "#" * 101


def test_a_spec_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("input: [3]\nlayers: [relu]\n# caf\xe9\n".encode("latin-1"))
    code, _, err = run_cli("check", str(path))
    assert code == 1 and "not UTF-8" in err and "Traceback" not in err


# ------------------------------------------------------------------ writing


def test_an_existing_output_keeps_its_mode_and_a_new_one_gets_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    target.write_text("old")
    target.chmod(0o600)
    code, _, err = run_cli("compile", str(MLP), "-o", str(target))
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and "class" in target.read_text()
    fresh = tmp_path / "fresh.py"
    umask = os.umask(0o022)
    try:
        assert run_cli("compile", str(MLP), "-o", str(fresh))[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644


def test_an_output_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "model.py").write_text("old")
    link = tmp_path / "model.py"
    link.symlink_to(real / "model.py")
    assert run_cli("compile", str(MLP), "-o", str(link))[0] == 0
    assert link.is_symlink() and "class" in (real / "model.py").read_text()
    assert temporaries(tmp_path) == [] and temporaries(real) == []


def test_a_long_output_name_does_not_overflow_the_temporary_name(tmp_path: Path) -> None:
    name = "n" * 251 + ".py"  # 254 bytes: fits, but `.NAME.tmpXXXX` would not
    code, _, err = run_cli("compile", str(MLP), "-o", str(tmp_path / name))
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == [name]
    wide = "é" * 126 + ".py"  # 255 bytes in UTF-8: shortened at a character boundary
    atomic_write(tmp_path / wide, lambda path: path.write_text("x"))
    assert (tmp_path / wide).read_text() == "x" and temporaries(tmp_path) == []


def test_an_output_name_too_long_for_the_file_system_is_refused(tmp_path: Path) -> None:
    code, _, err = run_cli("compile", str(MLP), "-o", str(tmp_path / ("n" * 300 + ".py")))
    assert code == 1 and "file name is too long" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_removed_only_when_they_are_archcs(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = tmp_path / f".model.pt.archc-tmp-{dead}-0123abcd"
    alive = tmp_path / f".model.pt.archc-tmp-{os.getppid()}-0123abcd"  # a running process
    lookalikes = [tmp_path / ".model.pt.tmp", tmp_path / f".m.archc-tmp-{dead}-notrandom",
                  tmp_path / f"model.archc-tmp-{dead}-0123abcd", tmp_path / "notes.txt"]
    for path in (stale, alive, *lookalikes):
        path.write_text("x")
    link = tmp_path / f".other.archc-tmp-{dead}-0123abcd"
    link.symlink_to(tmp_path / "notes.txt")
    assert TEMP_NAME.match(stale.name)
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and alive.exists() and link.is_symlink()
    assert all(path.exists() for path in lookalikes)


def test_the_next_run_removes_a_stale_temporary(tmp_path: Path) -> None:
    stale = tmp_path / f".model.pt.archc-tmp-{dead_pid()}-89abcdef"
    stale.write_bytes(b"half a checkpoint")
    keep = tmp_path / ".keep.tmp"
    keep.write_text("not archc's")
    assert run_cli("compile", str(MLP), "-o", str(tmp_path / "other.py"))[0] == 0
    assert not stale.exists() and keep.exists()


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_temporary(folder: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        found = temporaries(folder)
        if found:
            return found[0]
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the process ended before writing: {err.decode(errors='replace')}")
        time.sleep(0.002)
    process.kill()
    pytest.fail("no temporary appeared")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_long_compile_removes_the_temporary(tmp_path: Path,
                                                              signum: int) -> None:
    target = tmp_path / "vgg16.pt"
    process = _start([sys.executable, "-m", "archc", "compile", str(VGG16), "-o", str(target)],
                     ROOT)
    name = _wait_for_temporary(tmp_path, process)
    assert TEMP_NAME.match(name) and name.startswith(".vgg16.pt.archc-tmp-")
    process.send_signal(signum)
    _, err = process.communicate(timeout=HANG)
    if target.exists():  # the write finished before the signal arrived: rare
        assert temporaries(tmp_path) == []
        return
    assert process.returncode == 128 + signum, err
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sigkill_leaves_a_recognisable_temporary_that_the_next_run_removes(
        tmp_path: Path) -> None:
    target = tmp_path / "vgg16.pt"
    process = _start([sys.executable, "-m", "archc", "compile", str(VGG16), "-o", str(target)],
                     ROOT)
    name = _wait_for_temporary(tmp_path, process)
    process.kill()
    process.communicate(timeout=HANG)
    if target.exists():  # the write finished before the kill: rare
        return
    left = temporaries(tmp_path)
    assert left == [name] and TEMP_NAME.match(name)
    assert name.startswith(f".vgg16.pt.archc-tmp-{process.pid}-")
    result = subprocess.run([sys.executable, "-m", "archc", "compile", str(MLP), "-o",
                             str(tmp_path / "mlp.py")], cwd=ROOT, capture_output=True,
                            timeout=HANG, check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.py"]


SLOW_WRITE = """
import sys, time
from pathlib import Path
from archc.files import atomic_write

def write(path):
    path.write_text("half")
    print("writing", flush=True)
    time.sleep(60)

atomic_write(Path(sys.argv[1]), write)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_python_api_removes_its_temporary_on_a_signal_too(tmp_path: Path,
                                                              signum: int) -> None:
    """Without the CLI's handlers: atomic_write installs its own for the write."""
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(tmp_path / "out.bin")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline() == b"writing\n"
    assert len(temporaries(tmp_path)) == 1
    process.send_signal(signum)
    process.communicate(timeout=HANG)
    assert process.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_handlers_are_restored_after_a_write(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    atomic_write(tmp_path / "a.txt", lambda path: path.write_text("a"))
    assert signal.getsignal(signal.SIGTERM) is before
