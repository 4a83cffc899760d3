"""The static paths never import torch (importing it alone takes seconds): every CLI command and
output format that needs no torch (check, shapes, compile -o x.py, draw, convert, fmt, ops,
each command's --help, and each one's error path) and the public API functions that need none
(load, network, shapes, source, draw) run in a fresh interpreter in which a meta-path finder
makes any import of torch or a torch submodule fail and records who asked. A case passes when
torch was never asked for, the exit status is the expected one and the output is the real one.
The interpreters run in parallel, started when the first case is asked for."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import ROOT

SPEC = ROOT / "specs" / "torchvision" / "resnet50.yaml"
ARCH = ROOT / "specs" / "googlenet.arch"
CHECKED = (f"ok  {SPEC}: resnet50 → [N, 1000], 25,557,032 params",
           f"ok  {ARCH}: googlenet → [N, 10], 5,998,362 params")
TORCH_IMPORTED = 86  # the guard's exit status when torch was asked for

# Every case's folder (its working directory) holds these specs: `bad.yaml` parses but does
# not elaborate, `broken.*` do not parse, `messy.arch` is valid but not canonically laid out.
FILES = {
    "bad.yaml": "archc: 1\nname: bad\ninput: [3, 8, 8]\nlayers:\n  - conv(4, 9)\n  - relu\n",
    "broken.yaml": "archc: 1\nname: broken\ninput: [3, 8, 8]\nlayers:\n  - conv(4,\n",
    "broken.arch": "network n {\n  input [4]\n  linear(2\n}\n",
    "messy.arch": "network   m {input [4]\n  linear(8) ; relu\nlinear( 2 )}\n",
}
SHAPE_ERROR = "bad.yaml:5:5: error: conv: kernel larger than the padded input"

# Run as `python -c GUARD CODE ARGS...`: installs the finder, runs CODE, and exits with CODE's
# status, or with TORCH_IMPORTED and the importing frames on stderr if torch was asked for
# (even if the ImportError was caught on the way) or is loaded.
GUARD = f"""
import sys, traceback

class NoTorch:
    asked = []

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen")]
            self.asked.append(f"{{name}} imported by\\n" + "".join(traceback.format_list(frames)))
            raise ModuleNotFoundError(f"torch is blocked here: {{name}}", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
status = 0
try:
    exec(compile(sys.argv[1], "<case>", "exec"), {{"__name__": "__case__"}})
except SystemExit as exit:
    status = exit.code
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
if NoTorch.asked or loaded:
    sys.stderr.write("TORCH IMPORTED: " + "".join(NoTorch.asked[:1]) + f"loaded: {{loaded[:5]}}\\n")
    sys.exit({TORCH_IMPORTED})
sys.exit(status)
"""
# the `archc` command itself (archc/__main__.py: the entry point that keeps tracebacks away)
CLI = ("import runpy, sys\nsys.argv = ['archc', *sys.argv[2:]]\n"
       "runpy.run_module('archc', run_name='__main__')\n")


@dataclass(frozen=True)
class Case:
    id: str
    code: str  # run under the guard, in the case's folder
    argv: tuple[str, ...] = ()
    status: int = 0
    out: tuple[str, ...] = ()  # each in stdout
    err: tuple[str, ...] = ()  # each in stderr
    check: Callable[[str, Path], None] | None = None  # (stdout, folder): the output is real


def cli(id: str, *argv: str, status: int = 0, out: tuple[str, ...] = (),
        err: tuple[str, ...] = (), check: Callable[[str, Path], None] | None = None) -> Case:
    return Case(id, CLI, argv, status, out, err, check)


def api(id: str, code: str, check: Callable[[str, Path], None] | None = None,
        out: tuple[str, ...] = ()) -> Case:
    return Case(id, f"import archc, json\nSPEC = {str(SPEC)!r}\nARCH = {str(ARCH)!r}\n{code}",
                out=out, check=check)


# ------------------------------------------------------------------ what real output is


def resnet50_report(report: dict) -> None:
    assert report["name"] == "resnet50" and report["inputs"] == {"x": [None, 3, 224, 224]}
    assert report["outputs"] == [[None, 1000]]
    assert (report["params"], report["macs"]) == (25_557_032, 4_089_184_256)
    assert report["layers"][-1]["path"] == "fc" and len(report["layers"]) > 200


def json_report(out: str, folder: Path) -> None:
    resnet50_report(json.loads(out))


def report_with_min_input(out: str, folder: Path) -> None:
    report = json.loads(out)
    resnet50_report(report)
    assert report["min_input"]["smallest"] == [3, 1, 1]
    assert report["min_input"]["dims"]["H"]["period"] == 32


def python_source(text: str) -> None:
    """Valid Python with the network's class, importing torch only as text."""
    tree = ast.parse(text)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {"ResNet50", "Bottleneck"} <= classes, classes
    assert "import torch" in text


def source_file(out: str, folder: Path) -> None:
    python_source((folder / "r.py").read_text())


def source_text(out: str, folder: Path) -> None:
    python_source(out)


def dot_file(out: str, folder: Path) -> None:
    text = (folder / "r.dot").read_text()
    assert text.startswith("digraph resnet50 {") and text.rstrip().endswith("}")
    assert "layer4" in text


def svg_file(out: str, folder: Path) -> None:
    svg = ElementTree.fromstring((folder / "r.svg").read_bytes())
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "resnet50" in ElementTree.tostring(svg, encoding="unicode")


def dot_text(out: str, folder: Path) -> None:
    assert out.startswith("digraph resnet50 {") and "layer4" in out


def converted_to_arch(out: str, folder: Path) -> None:
    import archc.api

    # the spec as written, its import line kept (resnet50.yaml is a variant of a family)
    assert archc.api.parse(out, "converted.arch") == archc.load(SPEC, imports=False)
    assert archc.load(SPEC, imports=False).imports


def converted_to_yaml(out: str, folder: Path) -> None:
    import archc.api

    assert archc.api.parse((folder / "g.yaml").read_text(), "g.yaml") == archc.load(ARCH)


def silent(out: str, folder: Path) -> None:
    assert out == ""


def untouched(out: str, folder: Path) -> None:
    assert (folder / "messy.arch").read_text() == FILES["messy.arch"]


def nothing_written(out: str, folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


def every_op(out: str, folder: Path) -> None:
    from archc.ops import OPS

    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(OPS) <= rows, set(OPS) - rows


def conv_op(out: str, folder: Path) -> None:
    from archc.ops import OPS

    op = OPS["conv"]
    assert out.startswith(op.signature()) and all(a.name in out for a in op.attrs)


def ops_markdown(out: str, folder: Path) -> None:
    from archc.ops.reference import markdown

    assert out == markdown()


def help_of(command: str | None) -> Callable[[str, Path], None]:
    def check(out: str, folder: Path) -> None:
        from archc.cli import main

        group_or_command = main if command is None else main.commands[command]
        usage = "Usage: archc" + (f" {command}" if command else "") + " [OPTIONS]"
        assert out.startswith(usage), out[:200]
        options = {o for p in group_or_command.params for o in p.opts if o.startswith("--")}
        assert all(o in out for o in options), {o for o in options if o not in out}
        if command is None:
            assert all(f"  {name} " in out for name in main.commands)
    return check


# ------------------------------------------------------------------ the cases

API_ERRORS = """
calls = [(archc.load, 'broken.yaml'), (archc.network, 'bad.yaml'), (archc.shapes, 'bad.yaml'),
         (archc.source, 'bad.yaml'), (archc.draw, 'bad.yaml')]
for call, path in calls:
    try:
        call(path)
    except archc.ArchcError as error:
        print(call.__name__, error.render().splitlines()[0])
    else:
        print(call.__name__, 'raised nothing')
"""

CASES = [
    cli("check", "check", str(SPEC), str(ARCH), out=CHECKED),
    cli("check error", "check", str(SPEC), "bad.yaml", status=1, out=CHECKED[:1],
        err=(SHAPE_ERROR, "1 of 2 specs failed")),
    cli("shapes table", "shapes", str(SPEC),
        out=("resnet50", "layer4", "params 25,557,032 (25.56M)", "MACs 4.09G   FLOPs 8.22G",
             "peak 9.76 MiB")),
    cli("shapes json", "shapes", str(SPEC), "--format", "json", check=json_report),
    cli("shapes json all columns", "shapes", str(SPEC), "--format", "json", "--columns", "all",
        check=json_report),
    cli("shapes min-input", "shapes", str(SPEC), "--min-input",
        out=("params 25,557,032", "min input x: 3×1×1", "H, W: multiples of 32")),
    cli("shapes json min-input", "shapes", str(SPEC), "--format", "json", "--min-input",
        check=report_with_min_input),
    cli("shapes all columns", "shapes", str(SPEC), "--columns", "all",
        out=("output shape", "params", "MACs", "FLOPs", "memory", "RF", "stride",
             "params 25,557,032")),
    cli("shapes error", "shapes", "bad.yaml", status=1, err=(SHAPE_ERROR,)),
    cli("shapes bad columns", "shapes", str(SPEC), "--columns", "op,colour", status=2,
        err=("--columns",)),
    cli("compile .py", "compile", str(SPEC), "-o", "r.py",
        out=("wrote r.py (PyTorch source): resnet50, 25,557,032 parameters",),
        check=source_file),
    cli("compile .py error", "compile", "bad.yaml", "-o", "r.py", status=1,
        err=(SHAPE_ERROR,), check=nothing_written),
    cli("compile .pt error", "compile", "bad.yaml", status=1, err=(SHAPE_ERROR,),
        check=nothing_written),
    cli("compile .py with init", "compile", str(SPEC), "-o", "r.py", "--init", "seed=0",
        status=2, err=("a .py file holds no weights",), check=nothing_written),
    cli("compile unknown extension", "compile", str(SPEC), "-o", "r.txt", status=2,
        err=("unknown extension '.txt'",), check=nothing_written),
    cli("draw .dot", "draw", str(SPEC), "-o", "r.dot",
        out=("wrote r.dot (DOT): resnet50, 25,557,032 parameters",), check=dot_file),
    pytest.param(
        cli("draw .svg", "draw", str(SPEC), "-o", "r.svg",
            out=("wrote r.svg (SVG): resnet50, 25,557,032 parameters",), check=svg_file),
        marks=pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")),
    cli("draw error", "draw", "bad.yaml", "-o", "r.dot", status=1, err=(SHAPE_ERROR,),
        check=nothing_written),
    cli("convert to arch", "convert", str(SPEC), "--to", "arch", check=converted_to_arch),
    cli("convert -o yaml", "convert", str(ARCH), "-o", "g.yaml", out=("wrote g.yaml (YAML)",),
        check=converted_to_yaml),
    cli("convert error", "convert", "broken.yaml", "--to", "arch", status=1,
        err=("broken.yaml:5:12: error: syntax error in layer",)),
    cli("fmt check", "fmt", "--check", str(SPEC), str(ARCH), check=silent),
    cli("fmt check messy", "fmt", "--check", "messy.arch", status=1,
        out=("would reformat messy.arch",), check=untouched),
    cli("fmt error", "fmt", "--check", "broken.arch", status=1,
        err=("broken.arch:3:9: error: this '(' is never closed",)),
    cli("ops", "ops", out=("op", "family", "signature"), check=every_op),
    cli("ops conv", "ops", "conv", out=("shape: [N, C, *S] → [N, out_channels, *S']",),
        check=conv_op),
    cli("ops markdown", "ops", "--format", "markdown", out=("# Op reference",),
        check=ops_markdown),
    cli("ops error", "ops", "cnv", status=1,
        err=("error: unknown op 'cnv'", "did you mean 'conv'?")),
    cli("--help", "--help", check=help_of(None)),
    cli("--version", "--version", out=("archc, version 0.1.0",)),
    *(cli(f"{command} --help", command, "--help", check=help_of(command))
      for command in ("check", "shapes", "compile", "draw", "convert", "fmt", "ops")),
    api("api load", "print(archc.load(SPEC).name, archc.load(ARCH).name)",
        out=("resnet50 googlenet",)),
    api("api network", "net = archc.network(SPEC)\n"
                       "print(net.name, net.total_params, [s[1:] for s in net.output_shapes()])",
        out=("resnet50 25557032 [(1000,)]",)),
    api("api shapes", "print(json.dumps(archc.shapes(SPEC, with_min_input=True)))",
        check=report_with_min_input),
    api("api source", "print(archc.source(SPEC))", check=source_text),
    api("api draw", "print(archc.draw(SPEC).source)", check=dot_text),
    api("api errors", API_ERRORS,
        out=("load broken.yaml:5:12: error: syntax error in layer",
             *(f"{name} {SHAPE_ERROR}" for name in ("network", "shapes", "source", "draw")))),
]


def case_id(case: Case) -> str:
    return case.id


Launched = dict[str, tuple[Path, Future[subprocess.CompletedProcess[str]]]]  # id: folder, run


def run_case(case: Case, folder: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}  # rich: no wrapped table rows
    return subprocess.run([sys.executable, "-c", GUARD, case.code, *case.argv], cwd=folder,
                          env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def launched(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    """Every selected case started at once, a few at a time: its folder and its result."""
    selected = []
    for item in request.session.items:  # only what runs: `-k draw` starts the draw cases
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and "case" in callspec.params:
            selected.append(callspec.params["case"])
    base = tmp_path_factory.mktemp("torch_free")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with ThreadPoolExecutor(max_workers=max(2, cores or 2)) as pool:
        folders = {case.id: base / f"case{number}" for number, case in enumerate(selected)}
        yield {case.id: (folders[case.id], pool.submit(run_case, case, folders[case.id]))
               for case in selected}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_never_imports_torch_and_gives_the_real_output(case: Case, launched: Launched) -> None:
    folder, future = launched[case.id]
    result = future.result()
    assert result.returncode != TORCH_IMPORTED, result.stderr[-4000:]
    assert result.returncode == case.status, (result.stdout[-1000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    missing = [t for t in case.out if t not in result.stdout]
    assert not missing, (missing, result.stdout[-2000:])
    missing = [t for t in case.err if t not in result.stderr]
    assert not missing, (missing, result.stderr[-2000:])
    if case.status == 0:
        assert "error:" not in result.stderr, result.stderr[-2000:]
    if case.check is not None:
        case.check(result.stdout, folder)


def test_the_guard_catches_an_import_of_torch_anywhere(tmp_path: Path) -> None:
    """The finder sees an import deep in a library, even one whose ImportError is caught."""
    code = "try:\n    import torch.nn\nexcept ImportError:\n    pass\nprint('ran')\n"
    result = subprocess.run([sys.executable, "-c", GUARD, code], cwd=tmp_path,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == TORCH_IMPORTED and result.stdout == "ran\n"
    assert "TORCH IMPORTED: torch imported by" in result.stderr and "<case>" in result.stderr


def test_importing_archc_imports_neither_torch_nor_networkx() -> None:
    script = ("import sys, archc, archc.cli\n"
              "assert 'torch' not in sys.modules\n"
              "assert 'networkx' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
