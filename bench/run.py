"""archc's benchmarks, side by side with what people do today (`make bench`).

Each comparison alternates the two sides over several repetitions and reports their medians;
the build and forward ratios are the medians of the ratios pair by pair, so a slow moment of
the machine hits both sides of a pair alike. Results go to bench/results/ as
Markdown and JSON. Never run as a timed test: tests assert behaviour, this measures speed.

  1. `archc shapes` of ResNet-50 as users type it (its table), a fresh process, against import
     torch + build the model + torchinfo.summary at 1x3x224x224 (what users run today); with
     --format json and --depth 1 beside it.                              goal: >= 20x faster
  2. archc.build of ResNet-50 and DenseNet-121 against torchvision's constructors, a spec's
     first build and a later one (its source cached).                       goal: <= 1.10x
  3. forward latency of the built module against torchvision's, eager and under torch.compile,
     1x3x224x224.                                                          goal: <= 1.02x
  4. parse + elaborate + infer of generated specs of 100, 1,000 and 10,000 layers (a chain,
     residual blocks, dense blocks).                     goal: 10k <= 1 s, t(10k)/t(1k) <= 12
  5. `archc draw` to DOT of ResNet-50 at full depth, a fresh process, without importing torch.

Usage: python bench/run.py [--quick] [--no-compile]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import KINDS  # noqa: E402

RESNET50 = ROOT / "specs" / "torchvision" / "resnet50.yaml"
DENSENET121 = ROOT / "specs" / "torchvision" / "densenet121.yaml"
BASELINE_SUMMARY = """
import torch, torchinfo
from tests.test_torchvision import import_torchvision_models
model = import_torchvision_models().resnet50(weights=None)
torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
"""


def fresh_process(args: list[str], check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=check, stdout=subprocess.DEVNULL,
                   stderr=None if check else subprocess.DEVNULL)
    return time.perf_counter() - start


def whole(args: list[str]) -> float:
    """Seconds of one command in a fresh process, as a user runs it (a refusal is a result)."""
    return fresh_process(args, check=False)


# a small launcher, so that the peak is the command's own: a child forked from this process
# (torch loaded) would count its copy of this process until it execs the command
PEAK = ("import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak(args: list[str]) -> int:
    """The peak resident bytes of one command (Linux counts kilobytes)."""
    out = subprocess.run([sys.executable, "-c", PEAK, *args], cwd=ROOT, check=False,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024


def median_of(args: list[str], repeats: int) -> tuple[float, int]:
    """The median seconds of `repeats` runs, and the peak memory of one more."""
    return statistics.median(whole(args) for _ in range(repeats)), peak(args)


ARCHC = str(Path(sys.executable).parent / "archc")  # the console script a user types
RAISED = ["--max-tokens", "1000000", "--max-nodes", "200000", "--max-steps", "10000000"]


def bench_commands(repeats: int, folder: Path) -> list[dict[str, Any]]:
    """Whole commands as users type them, each in a fresh process (goals of issue #19)."""
    from generate import residual, sequential

    rows: list[dict[str, Any]] = []

    def row(name: str, command: list[str], seconds: float, goal: str, met: bool | None,
            **extra: Any) -> None:
        shown = " ".join(c.replace(str(folder), "$TMP").replace(str(ROOT) + "/", "")
                         .replace(ARCHC, "archc").replace(sys.executable, "python")
                         for c in command)
        rows.append({"name": name, "command": shown, "archc": seconds, "goal": goal,
                     "met": met, **extra})

    # start-up: the floor under every command
    help_cmd, bare = [ARCHC, "--help"], [sys.executable, "-c", "pass"]
    ours, theirs = alternate(lambda: whole(help_cmd), lambda: whole(bare), repeats * 3)
    row("start-up", help_cmd, ours, "≤ 0.06 s", ours <= 0.06,
        note=f"bare Python starts in {theirs:.3f} s here: {ours / theirs:.1f}x")
    # a long chain: check and shapes --format json, linear in layers, with its peak memory
    for layers in (10_000, 100_000):
        path = folder / f"chain{layers}.yaml"
        path.write_text(sequential(layers))
    times: dict[str, float] = {}
    for layers in (10_000, 100_000):
        path = str(folder / f"chain{layers}.yaml")
        for what, command in (("check", [ARCHC, *RAISED, "check", path]),
                              ("shapes json", [ARCHC, *RAISED, "shapes", path, "--format",
                                               "json"])):
            seconds, peak = median_of(command, 1 if layers == 100_000 else repeats)
            times[f"{what} {layers}"] = seconds
            limit = {"check": 2.0, "shapes json": 3.0}[what]
            row(f"{what}, a chain of {layers:,} layers", command, seconds,
                f"≤ {limit:.0f} s" if layers == 100_000 else "",
                seconds <= limit if layers == 100_000 else None,
                note=f"peak {peak / 2**20:,.0f} MiB, {peak / layers / 1024:.1f} KiB a layer")
    ratio = times["check 100000"] / times["check 10000"]
    rows[-1]["note"] += f"; check t(100k)/t(10k) = {ratio:.1f} (goal ≤ 11)"
    # a 3,000-block residual net drawn: collapsed (the default), and refused uncollapsed
    path = folder / "residual3000.yaml"
    path.write_text(residual(18_000))
    for variant in ([], ["--no-collapse"]):
        command = [ARCHC, *RAISED, "draw", str(path), *variant, "-o", str(folder / "r.svg")]
        seconds, _ = median_of(command, 1)
        row(f"draw a 3,000-block residual net to SVG{' ' + variant[0] if variant else ''}",
            command, seconds, "≤ 10 s or refused", seconds <= 10,
            note="refused up front, suggesting --depth" if variant else "")
    # --min-input over the zoo: the slowest spec
    worst = (0.0, "")
    for spec in sorted((ROOT / "specs").rglob("*.yaml")):
        seconds, _ = median_of([ARCHC, "shapes", str(spec), "--min-input"], repeats)
        worst = max(worst, (seconds, str(spec.relative_to(ROOT))))
    row("shapes --min-input, the slowest zoo spec", [ARCHC, "shapes", worst[1], "--min-input"],
        worst[0], "≤ 0.3 s", worst[0] <= 0.3)
    # TorchScript: archc compile against scripting torchvision's model and saving it
    target = folder / "r.pt"
    script = ("import torch, warnings; from tests.test_torchvision import "
              "import_torchvision_models as m\nwarnings.simplefilter('ignore')\n"
              f"torch.jit.save(torch.jit.script(m().resnet50(weights=None)), {str(target)!r})")
    compile_cmd = [ARCHC, "compile", str(RESNET50), "-o", str(target)]
    ours, theirs = alternate(lambda: whole(compile_cmd),
                             lambda: whole([sys.executable, "-c", script]), repeats)
    row("compile ResNet-50 to TorchScript", compile_cmd, ours, "faster than the script",
        ours < theirs, baseline=theirs, note=f"torch.jit.script of torchvision's and save: "
        f"{theirs:.2f} s ({ours / theirs:.2f}x)")
    return rows


def alternate(a: Callable[[], float], b: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Median seconds of a and b, measured in turn."""
    times_a, times_b = [], []
    for _ in range(repeats):
        times_a.append(a())
        times_b.append(b())
    return statistics.median(times_a), statistics.median(times_b)


def paired(a: Callable[[], float], b: Callable[[], float],
           repeats: int) -> tuple[float, float, float]:
    """Median seconds of a and b measured in turn, and the median of the ratios a/b pair by
    pair: a pair shares the machine's speed of the moment, so drift moves neither."""
    pairs = [(a(), b()) for _ in range(repeats)]
    return (statistics.median(x for x, _ in pairs), statistics.median(y for _, y in pairs),
            statistics.median(x / y for x, y in pairs))


def timed(call: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return run


def bench_shapes(repeats: int) -> list[dict[str, Any]]:
    """`archc shapes` as users type it (the default table), then `--format json` and
    `--depth 1`, each in a fresh process, against torch + torchvision + torchinfo.summary."""
    # the console script, as a user types `archc shapes specs/torchvision/resnet50.yaml`
    base = [str(Path(sys.executable).parent / "archc"), "shapes", str(RESNET50)]
    baseline_cmd = [sys.executable, "-c", BASELINE_SUMMARY]
    for variant in ([], ["--format", "json"], ["--depth", "1"]):
        fresh_process(base + variant)  # warm the OS file cache
    ours, theirs = alternate(lambda: fresh_process(base), lambda: fresh_process(baseline_cmd),
                             repeats)
    rows = [{"name": "archc shapes resnet50.yaml (the table), fresh process", "archc": ours,
             "baseline": theirs, "baseline_label": "torch + torchinfo.summary",
             "speedup": theirs / ours, "goal": "≥ 20x faster", "met": theirs / ours >= 20}]
    for variant in (["--format", "json"], ["--depth", "1"]):
        seconds = statistics.median(fresh_process(base + variant) for _ in range(repeats))
        rows.append({"name": f"archc shapes resnet50.yaml {' '.join(variant)}, fresh process",
                     "archc": seconds, "baseline": theirs,
                     "baseline_label": "torch + torchinfo.summary", "speedup": theirs / seconds,
                     "goal": "", "met": None})
    return rows


def bench_build(repeats: int) -> list[dict[str, Any]]:
    """archc.build as a script calls it, against torchvision's constructor. Each repetition
    starts as a new process would: the generated classes are executed again. "first build" is
    a spec never built before (an empty source cache: parse, elaborate, generate, store);
    "built before" is every later build of an unchanged spec (the source read from the cache)."""
    import os

    import torch

    import archc
    from archc.backends import torch as backend
    from tests.test_torchvision import import_torchvision_models

    models = import_torchvision_models()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        saved = os.environ.get("ARCHC_CACHE_DIR")
        try:
            for spec, reference in ((RESNET50, models.resnet50),
                                    (DENSENET121, models.densenet121)):
                for case in ("first build", "built before"):
                    def build(s: Path = spec, case: str = case) -> None:
                        backend._CLASSES.clear()
                        if case == "first build":
                            os.environ["ARCHC_CACHE_DIR"] = tempfile.mkdtemp(dir=scratch)
                        else:
                            os.environ["ARCHC_CACHE_DIR"] = os.path.join(scratch, "kept")
                        archc.build(s)

                    build()  # "built before": the entry exists
                    torch.manual_seed(0)
                    ours, theirs, ratio = paired(timed(build),
                                                 timed(lambda r=reference: r(weights=None)),
                                                 repeats)
                    rows.append({"name": f"`archc.build(\"{spec.relative_to(ROOT)}\")`, {case}",
                                 "archc": ours,
                                 "baseline": theirs, "baseline_label": "torchvision constructor",
                                 "ratio": ratio, "goal": "≤ 1.10x", "met": ratio <= 1.10})
        finally:
            if saved is None:
                os.environ.pop("ARCHC_CACHE_DIR", None)
            else:
                os.environ["ARCHC_CACHE_DIR"] = saved
    return rows


def bench_forward(repeats: int, compiled: bool) -> list[dict[str, Any]]:
    import torch

    import archc
    from tests.test_torchvision import import_torchvision_models

    torch.set_num_threads(2)
    models = import_torchvision_models()
    rows = []
    x = torch.randn(1, 3, 224, 224)
    for spec, reference in ((RESNET50, models.resnet50),):
        theirs_model = reference(weights=None).eval()
        ours_model = archc.build(spec).eval()
        ours_model.load_state_dict(theirs_model.state_dict())
        modes = [("eager", lambda m: m)]
        if compiled:
            modes.append(("torch.compile", lambda m: torch.compile(m)))
        for mode, wrap in modes:
            ours_run, theirs_run = wrap(ours_model), wrap(theirs_model)
            with torch.no_grad():
                for _ in range(3):  # warm up (and compile)
                    ours_run(x)
                    theirs_run(x)

                def step(model: Any) -> Callable[[], float]:
                    def run() -> float:
                        start = time.perf_counter()
                        with torch.no_grad():
                            model(x)
                        return time.perf_counter() - start

                    return run

                ours, theirs, ratio = paired(step(ours_run), step(theirs_run), repeats * 8)
            rows.append({"name": f"forward of `archc.build(\"{spec.relative_to(ROOT)}\")` "
                                 f"({mode}, 1x3x224x224)", "archc": ours,
                         "baseline": theirs, "baseline_label": "torchvision",
                         "ratio": ratio, "goal": "≤ 1.02x", "met": ratio <= 1.02})
    return rows


def bench_scaling(repeats: int) -> list[dict[str, Any]]:
    import archc

    large = archc.Limits(max_tokens=200_000)

    rows = []
    for kind, make in KINDS.items():
        times = {}
        for layers in (100, 1_000, 10_000):
            text = make(layers)
            # a 10,000-layer spec written out has 65,000 tokens: past the default limit for
            # specs from strangers (docs/security.md), so the limit is raised as a user would
            archc.network(text, limits=large)  # once untimed: caches are part of steady state
            times[layers] = statistics.median(
                timed(lambda t=text: archc.network(t, limits=large))() for _ in range(repeats))
        ratio = times[10_000] / times[1_000]
        rows.append({"name": f"parse + elaborate + infer, {kind}", "times": times,
                     "ratio_10k_1k": ratio, "goal": "10k ≤ 1 s, t(10k)/t(1k) ≤ 12",
                     "met": times[10_000] <= 1.0 and ratio <= 12})
    return rows


def bench_draw(repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "resnet50.dot"
        script = ("import sys; from archc.cli import main\n"
                  f"try:\n    main(['draw', {str(RESNET50)!r}, '-o', {str(target)!r}])\n"
                  "except SystemExit:\n    pass\n"
                  "assert 'torch' not in sys.modules, 'draw imported torch'\n")
        seconds = statistics.median(
            fresh_process([sys.executable, "-c", script]) for _ in range(repeats))
        size = target.stat().st_size
    return {"name": "draw ResNet-50 to DOT, full depth, fresh process", "archc": seconds,
            "bytes": size, "torch_imported": False}


def markdown(results: dict[str, Any]) -> str:
    lines = [f"# archc benchmarks ({results['when']}, {results['machine']})", "",
             "| benchmark | archc | baseline | ratio | goal | met |", "|---|---|---|---|---|---|"]
    for shapes in results["shapes"]:
        met = "" if shapes["met"] is None else "yes" if shapes["met"] else "no"
        lines.append(f"| {shapes['name']} | {shapes['archc']:.3f} s | {shapes['baseline']:.3f} "
                     f"s ({shapes['baseline_label']}) | {shapes['speedup']:.1f}x faster | "
                     f"{shapes['goal']} | {met} |")
    for row in results["build"] + results["forward"]:
        unit, scale = ("ms", 1000) if row["archc"] < 1 else ("s", 1)
        lines.append(f"| {row['name']} | {row['archc'] * scale:.1f} {unit} | "
                     f"{row['baseline'] * scale:.1f} {unit} ({row['baseline_label']}) | "
                     f"{row['ratio']:.3f}x | {row['goal']} | {'yes' if row['met'] else 'no'} |")
    for row in results["scaling"]:
        times = ", ".join(f"{n:,}: {t * 1000:.0f} ms" for n, t in row["times"].items())
        lines.append(f"| {row['name']} | {times} | | t(10k)/t(1k) = "
                     f"{row['ratio_10k_1k']:.1f} | {row['goal']} | "
                     f"{'yes' if row['met'] else 'no'} |")
    for row in results.get("commands", []):
        met = "" if row["met"] is None else "yes" if row["met"] else "no"
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(f"| {row['name']}: `{row['command']}` | {row['archc']:.3f} s{note} | | | "
                     f"{row['goal']} | {met} |")
    draw = results["draw"]
    lines.append(f"| {draw['name']} | {draw['archc']:.3f} s ({draw['bytes']:,} bytes, no torch) "
                 "| | | | |")
    lines += ["", f"Produced by `{results['command']}`; medians of alternating runs."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    options = parser.parse_args()
    repeats = 3 if options.quick else 5
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "command": "make bench" + (" (--quick)" if options.quick else ""),
    }
    cleanup = tempfile.TemporaryDirectory()
    scratch = cleanup.name
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("shapes", lambda: bench_shapes(repeats)),
        ("scaling", lambda: bench_scaling(repeats)),
        ("draw", lambda: bench_draw(repeats)),
        ("build", lambda: bench_build(repeats)),
        ("forward", lambda: bench_forward(repeats, not options.no_compile)),
        ("commands", lambda: bench_commands(repeats, Path(scratch))),
    ]
    for key, step in steps:
        print(f"== {key}", flush=True)
        results[key] = step()
    cleanup.cleanup()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "latest.md").write_text(markdown(results))
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(BENCH_START) + len(BENCH_START), text.index(BENCH_END)
    table = markdown(results).split("\n", 2)[2]  # without the heading
    readme.write_text(text[:start] + "\n" + table + text[end:])
    print(markdown(results))


BENCH_START, BENCH_END = "<!-- bench -->", "<!-- /bench -->"  # README's table, rewritten


if __name__ == "__main__":
    main()
