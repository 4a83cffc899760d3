"""The regression corpus of hostile inputs (tests/adversarial/): every file says, in its leading
comments, what a correct archc must do with it, and this test holds archc to it through the
whole path a user takes.

Expectations (one `# expect:` line, shell-quoted words):

- `error line=4 word=tall` — `archc check` exits 1 with a located error whose first line is 4
  (`line=4|5`: either), and whose message (not the echoed source line) holds each `word=`
  (`word=a|b`: either); `archc compile -o x.py` exits 1 and writes nothing.
- `accept shape=[N,4,6,6] keys=conv.weight,conv.bias` — check exits 0; compile to .py, .pt and
  .pt2 (the .pt2 on every sixth file unless ARCHC_ADVERSARIAL_FULL=1) and `archc.build` succeed;
  the .py parses, holds only imports, functions, classes and the docstring at module level, and
  carries every doc as a docstring, its words in order (`# expect-doc: "json"` gives the doc
  when the frontend's reading is itself under test); executed in a fresh namespace it gives the
  state_dict keys and shapes of `build`; the forward output shapes equal the static shapes of
  `archc.network` and `shape=` (`;` between outputs); `keys=` must be among the state_dict keys,
  `pshape=key:1` fixes a tensor's shape, `warn=word` needs a warning holding the word, and
  `roundtrip` compiles with `--weights` set to build's own state_dict.
- `safe ...` — either a located error (exit 1, the `word=`s if given) or everything `accept`
  asks.
- `diagnose line=4 word=branch` — an error or a warning at that line holding the words.

Every file also goes through `archc convert` (to the other spelling) and `archc fmt --check`.
Always: no traceback or "internal error", exit codes 0 or 1, no spec text run as code (the
payloads set ARCHC_PWNED), and `check` within the time and memory bounds of tests/test_fuzz.py.
"""

from __future__ import annotations

import ast as pyast
import json
import os
import re
import shlex
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archc
from archc.cli import main
from archc.dims import BATCH, Dim
from tests.test_fuzz import (
    PWNED,
    Guard,
    doc_problems,
    execute_source,
    module_body_problems,
    run_forward,
    state_shapes,
    static,
)

CORPUS = Path(__file__).resolve().parent / "adversarial"
FILES = sorted([*CORPUS.glob("*.yaml"), *CORPUS.glob("*.arch")])
FULL = os.environ.get("ARCHC_ADVERSARIAL_FULL") == "1"
LOCATION = re.compile(r":(\d+):(\d+): (error|warning): ")
SOURCE_LINE = re.compile(r"^\s*(\d+ )?\| ")


@dataclass
class Expectation:
    kind: str  # error | accept | safe | diagnose
    lines: set[int] = field(default_factory=set)
    words: list[list[str]] = field(default_factory=list)
    shapes: list[list[Dim]] | None = None
    keys: list[str] = field(default_factory=list)
    pshapes: dict[str, list[int]] = field(default_factory=dict)
    warns: list[list[str]] = field(default_factory=list)
    roundtrip: bool = False
    doc: str | None = None


def _shape(text: str) -> list[Dim]:
    return [BATCH if d.strip() == "N" else int(d) for d in text.strip().strip("[]").split(",")]


def expectation(path: Path) -> Expectation:
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    head = [line for line in lines if line.startswith("# expect: ")]
    assert len(head) == 1, f"{path.name}: needs exactly one '# expect:' line"
    words = shlex.split(head[0][len("# expect: "):])
    expect = Expectation(words[0])
    assert expect.kind in ("error", "accept", "safe", "diagnose"), path.name
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key == "line":
            expect.lines = {int(v) for v in value.split("|")}
        elif key == "word":
            expect.words.append(value.split("|"))
        elif key == "shape":
            expect.shapes = [_shape(s) for s in value.split(";")]
        elif key == "keys":
            expect.keys = value.split(",")
        elif key == "pshape":
            name, _, dims = value.rpartition(":")
            expect.pshapes[name] = [int(d) for d in dims.split("x")]
        elif key == "warn":
            expect.warns.append(value.split("|"))
        elif key == "roundtrip":
            expect.roundtrip = True
        else:
            raise AssertionError(f"{path.name}: unknown expectation {word!r}")
    for line in lines:
        if line.startswith("# expect-doc: "):
            expect.doc = json.loads(line[len("# expect-doc: "):])
    if expect.kind == "error":
        assert expect.lines and expect.words, f"{path.name}: an error needs line= and word="
    return expect


def message_text(stderr: str) -> str:
    """The rendered diagnostics without the echoed source lines and carets."""
    return "\n".join(line for line in stderr.splitlines() if not SOURCE_LINE.match(line))


def first(stderr: str, kind: str = "error") -> int | None:
    for match in LOCATION.finditer(stderr):
        if match.group(3) == kind:
            return int(match.group(1))
    return None


def diagnostics(stderr: str, kind: str) -> list[tuple[int, str]]:
    """(line, text) of each diagnostic of a kind: its head line and what follows until the
    next diagnostic."""
    found: list[tuple[int, str]] = []
    current: list[str] | None = None
    for raw in stderr.splitlines():
        match = LOCATION.search(raw)
        if match:
            current = [raw] if match.group(3) == kind else None
            if current is not None:
                found.append((int(match.group(1)), ""))
        if current is not None and not SOURCE_LINE.match(raw):
            if not match:
                current.append(raw)
            found[-1] = (found[-1][0], "\n".join(current))
    return found


def has_words(text: str, groups: list[list[str]]) -> list[str]:
    """The word groups missing from text (none of the alternatives present)."""
    return ["|".join(g) for g in groups if not any(w in text for w in g)]


# ---------------------------------------------------------------- the guarded CLI runs


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`archc check` of every corpus file in guarded children (two at a time, bounded in time
    and memory), each file copied alone into its own folder; then, in this process (the check
    bounded the elaboration), `archc compile -o x.py`."""
    base = tmp_path_factory.mktemp("adversarial")

    def one(guard: Guard, path: Path) -> tuple[str, dict[str, Any]]:
        folder = base / path.name.replace(".", "_")
        folder.mkdir()
        spec = folder / path.name
        shutil.copyfile(path, spec)
        result: dict[str, Any] = {"folder": str(folder), "spec": str(spec)}
        result["check"] = guard.call({"argv": ["check", spec.name], "cwd": str(folder)})
        if result["check"]["outcome"] == "cli":  # the other paths that read a spec
            other = "yaml" if path.suffix == ".arch" else "arch"
            result["convert"] = guard.call({"argv": ["convert", spec.name, "--to", other],
                                            "cwd": str(folder)})
            result["fmt"] = guard.call({"argv": ["fmt", "--check", spec.name],
                                        "cwd": str(folder)})
        return path.name, result

    def lane(paths: list[Path]) -> list[tuple[str, dict[str, Any]]]:
        with Guard() as guard:
            return [one(guard, path) for path in paths]

    with ThreadPoolExecutor(2) as pool:
        lanes = pool.map(lane, [FILES[0::2], FILES[1::2]])
        results = dict(item for lane_results in lanes for item in lane_results)
    for result in results.values():
        if result["check"]["outcome"] == "cli":
            folder = Path(result["folder"])
            result["py"] = run_cli(["compile", Path(result["spec"]).name, "-o", "x.py"], folder)
            result["after_py"] = sorted(p.name for p in folder.iterdir())
    return results


def run_cli(argv: list[str], cwd: Path) -> dict[str, Any]:
    """An archc command in this process, answered like the guard's replies."""
    import traceback

    before = Path.cwd()
    os.environ.pop(PWNED, None)
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, argv)
    finally:
        os.chdir(before)
    internal = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        internal = "".join(traceback.format_exception(result.exception))[-4000:]
    return {"outcome": "cli", "code": result.exit_code, "stdout": result.stdout,
            "stderr": result.stderr, "internal": internal,
            "pwned": os.environ.pop(PWNED, None) is not None}


def cli_problems(step: str, reply: dict[str, Any]) -> list[str]:
    """What no command may ever do, whatever the input."""
    if reply["outcome"] == "hang":
        return [f"{step}: no answer within the time bound (killed after {reply['seconds']:.1f} s)"]
    if reply["outcome"] != "cli":
        return [f"{step}: {reply['outcome']}: {reply.get('detail')}"]
    problems = []
    output = reply["stdout"] + reply["stderr"]
    if reply["internal"]:
        problems.append(f"{step}: an exception escaped: {reply['internal'][-1500:]}")
    if "Traceback" in output or "internal error" in output:
        problems.append(f"{step}: a traceback or internal error: {output[-1500:]}")
    if reply["code"] not in (0, 1):
        problems.append(f"{step}: exit {reply['code']}")
    if reply.get("pwned"):
        problems.append(f"{step}: spec text ran as code")
    return problems


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def accept_problems(path: Path, expect: Expectation, folder: Path, py_reply: dict[str, Any],
                    index: int) -> list[str]:
    """Everything an accepted spec must give: the .py, .pt, .pt2, build and forward."""
    import torch

    problems: list[str] = []
    if py_reply["code"] != 0:
        return [f"check accepted it, compile -o x.py failed: {py_reply['stderr'][-1500:]}"]
    source = (folder / "x.py").read_text(encoding="utf-8")
    try:
        tree = pyast.parse(source)
    except SyntaxError as error:
        return [f"x.py does not parse: {error}"]
    problems += module_body_problems(tree)
    spec = archc.load(folder / path.name)
    if expect.doc is not None and spec.doc != expect.doc:
        problems.append(f"the doc reads {spec.doc!r}, the spec says {expect.doc!r}")
    problems += yaml_oracle_problems(path, spec)
    problems += doc_problems(tree, spec, archc.network(spec))
    if problems:
        return problems  # never run a module that holds more than definitions
    os.environ.pop(PWNED, None)
    try:
        network = archc.network(spec)
        executed = execute_source(source)()
        built = archc.build(spec)
        if state_shapes(executed) != state_shapes(built):
            problems.append(f"x.py's state_dict {state_shapes(executed)} is not build's "
                            f"{state_shapes(built)}")
        keys = state_shapes(built)
        missing = [k for k in expect.keys if k not in keys]
        if missing:
            problems.append(f"state_dict keys {missing} missing; it has {sorted(keys)}")
        for key, dims in expect.pshapes.items():
            if keys.get(key) != dims:
                problems.append(f"{key} has shape {keys.get(key)}, expected {dims}")
        want = static(network.output_shapes())
        if expect.shapes is not None and want != static(expect.shapes):
            problems.append(f"static shapes {network.output_shapes()}, expected {expect.shapes}")
        got = run_forward(built, network)
        if got != want:
            problems.append(f"forward gives {got}, the static shapes say {want}")
        inputs = [torch.randn(2, *network.node(i).shape[1:]) for i in network.inputs.values()]
        formats = ["pt", "pt2"] if FULL or index % 6 == 0 else ["pt"]
        for suffix in formats:
            target = folder / f"x.{suffix}"
            result = invoke("compile", str(folder / path.name), "-o", str(target))
            if result.exit_code != 0 or (result.exception and not isinstance(result.exception,
                                                                             SystemExit)):
                problems.append(f"compile -o x.{suffix}: exit {result.exit_code}: "
                                f"{result.stderr[-1500:]} {result.exception!r}")
                continue
            if suffix == "pt":
                loaded = torch.jit.load(str(target))
                out = loaded(*inputs)
            else:
                out = torch.export.load(str(target)).module()(*inputs)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            if [list(o.shape) for o in outs] != want:
                problems.append(f"x.{suffix} gives {[list(o.shape) for o in outs]}, static "
                                f"{want}")
        if expect.roundtrip:
            checkpoint = folder / "own.pth"
            torch.save(built.state_dict(), checkpoint)
            result = invoke("compile", str(folder / path.name), "--weights", str(checkpoint),
                            "-o", str(folder / "weighted.pt"))
            if result.exit_code != 0:
                problems.append(f"its own state_dict does not load: {result.stderr[-1500:]}")
            reloaded = archc.build(spec, weights=checkpoint)
            if not all(torch.equal(reloaded.state_dict()[k], v)
                       for k, v in built.state_dict().items()):
                problems.append("build(weights=own checkpoint) does not give the same tensors")
    except archc.ArchcError as error:
        problems.append(f"check accepted it, then: {error.render()}")
    except Exception as error:
        problems.append(f"{type(error).__name__}: {str(error)[:1500]}")
    finally:
        if os.environ.pop(PWNED, None) is not None:
            problems.append("spec text ran as code in build or the compiled source")
    return problems


def yaml_oracle_problems(path: Path, spec: Any) -> list[str]:
    """For YAML, the docs archc read are the ones PyYAML reads (YAML defines the quoting)."""
    if path.suffix != ".yaml":
        return []
    import yaml

    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8").lstrip("\ufeff"))
    except (yaml.YAMLError, ValueError):
        return []
    if not isinstance(data, dict):
        return []
    problems = []
    if isinstance(data.get("doc"), str) and data["doc"] != spec.doc:
        problems.append(f"the doc reads {spec.doc!r}, YAML says {data['doc']!r}")
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    for block in spec.blocks:
        written = blocks.get(block.name)
        if isinstance(written, dict) and isinstance(written.get("doc"), str) \
                and written["doc"] != block.doc:
            problems.append(f"the doc of {block.name} reads {block.doc!r}, YAML says "
                            f"{written['doc']!r}")
    return problems


def error_problems(expect: Expectation, result: dict[str, Any]) -> list[str]:
    check = result["check"]
    problems = []
    errors = diagnostics(check["stderr"], "error")
    if not errors:
        return [f"no located error: exit {check['code']}, {check['stderr'][-800:]!r}"]
    line, text = errors[0]
    if expect.lines and line not in expect.lines:
        problems.append(f"error at line {line}, expected line {sorted(expect.lines)}: "
                        f"{text[:600]}")
    missing = has_words(message_text(text), expect.words)
    if missing:
        problems.append(f"the message lacks {missing}: {text[:600]}")
    py = result.get("py")
    if py is not None and py["outcome"] == "cli":
        if py["code"] != 1:
            problems.append(f"check refused it, compile -o x.py exit {py['code']}")
        leftovers = [n for n in result["after_py"] if n != Path(result["spec"]).name]
        if leftovers:
            problems.append(f"a failed compile left files: {leftovers}")
    return problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_hostile_input_ends_as_expected(path: Path, checked: dict[str, dict[str, Any]]) -> None:
    expect = expectation(path)
    result = checked[path.name]
    folder = Path(result["folder"])
    problems = cli_problems("check", result["check"])
    for step, key in (("compile -o x.py", "py"), ("convert", "convert"), ("fmt --check", "fmt")):
        if key in result:
            problems += cli_problems(step, result[key])
    if problems:
        pytest.fail(f"{path.name} ({expect.kind}):\n- " + "\n- ".join(problems))
    check, py = result["check"], result["py"]
    if check["code"] == 1:
        if expect.kind == "accept":
            problems.append(f"refused, expected accept: {check['stderr'][-1200:]}")
        elif expect.kind == "diagnose":
            found = [(ln, t) for ln, t in diagnostics(check["stderr"], "error")
                     if ln in expect.lines and not has_words(message_text(t), expect.words)]
            if not found:
                problems.append(f"no error at line {sorted(expect.lines)} with "
                                f"{expect.words}: {check['stderr'][-800:]}")
        else:
            problems += error_problems(expect, result)
    else:
        if expect.kind == "error":
            problems.append(f"accepted ({check['stdout'].strip()}), expected an error at line "
                            f"{sorted(expect.lines)} with {expect.words}")
        else:
            warnings = diagnostics(check["stderr"], "warning")
            if expect.kind == "diagnose" and not any(
                    ln in expect.lines and not has_words(message_text(t), expect.words)
                    for ln, t in warnings):
                problems.append(f"accepted without a diagnostic at line "
                                f"{sorted(expect.lines)} with {expect.words}: "
                                f"{check['stderr'][-800:]!r}")
            for group in expect.warns:
                if not any(not has_words(message_text(t), [group]) for _, t in warnings):
                    problems.append(f"no warning naming {'|'.join(group)}: "
                                    f"{check['stderr'][-800:]!r}")
            problems += accept_problems(path, expect, folder, py, FILES.index(path))
    if problems:
        pytest.fail(f"{path.name} ({expect.kind}):\n- " + "\n- ".join(problems))


def test_the_corpus_is_large_and_every_file_says_what_it_expects() -> None:
    assert len(FILES) >= 70
    kinds = [expectation(path).kind for path in FILES]
    assert kinds.count("error") >= 30 and kinds.count("accept") >= 20
