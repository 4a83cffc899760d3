"""Soundness (#12 point 2): for any spec that `archc check` accepts, `compile` to .py, .pt and
.pt2 and `build` succeed, the built module's forward output shapes equal the static shapes, and
the .py that compile writes, executed in a fresh namespace, gives a module with the same
state_dict keys and shapes as `build`.

The specs are generated from the registry's ops (tests/test_fuzz.generate: each op's attributes
with values of their types) and from hostile material (reserved and unicode names, inf, nan,
huge numbers and bools, docs with quotes and backslashes, resource-heavy expressions), printed
in either spelling. Each is first elaborated in the guarded child of tests/test_fuzz.py (time
and memory bounds); a refused spec must end in an error located inside the file. Accepted
specs then take the whole path in this process.

`make test` runs a sample (ARCHC_SOUNDNESS_SPECS, 800); `make fuzz` runs the long profile:
`python -m tests.test_soundness 10000`, which prints the counts per outcome class and every
failing spec's text.
"""

from __future__ import annotations

import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.test_fuzz import (  # noqa: E402
    PWNED,
    WHOLE_PATH_ELEMENTS,
    Guard,
    PrinterFailure,
    generate,
    judge,
    printed,
    whole_path,
)

SPECS = int(os.environ.get("ARCHC_SOUNDNESS_SPECS", "800"))
PT_EVERY = int(os.environ.get("ARCHC_SOUNDNESS_PT_EVERY", "8"))  # accepted specs per .pt
PT2_EVERY = int(os.environ.get("ARCHC_SOUNDNESS_PT2_EVERY", "40"))  # accepted specs per .pt2


def kind(message: str) -> str:
    """An error message without its particulars: the class it counts in."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]|-?\d[\d_.,e+-]*", "_", message)
    return text.split("\n")[0][:60]


def artefact_problems(text: str, name: str, shapes: list[list[Any]], formats: list[str],
                      folder: Path) -> list[str]:
    """`archc compile -o x.pt` / `x.pt2` of the spec written to a file, then the artefact loaded
    and run: its output shapes must be the static ones."""
    import torch
    from click.testing import CliRunner

    import archc
    from archc.cli import main

    spec = folder / name
    spec.write_text(text, encoding="utf-8", newline="")
    problems = []
    network = archc.network(spec)
    inputs = [torch.randn(2, *network.node(i).shape[1:]) for i in network.inputs.values()]
    want = [[2 if d is None else d for d in s] for s in shapes]
    for suffix in formats:
        target = folder / f"x.{suffix}"
        target.unlink(missing_ok=True)
        result = CliRunner().invoke(main, ["compile", str(spec), "-o", str(target)])
        if result.exit_code != 0:
            problems.append(f"compile -o x.{suffix}: exit {result.exit_code}: "
                            f"{result.stderr[-1200:]} {result.exception!r}")
            continue
        loaded = (torch.jit.load(str(target)) if suffix == "pt"
                  else torch.export.load(str(target)).module())
        with torch.no_grad():
            out = loaded(*inputs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if [list(o.shape) for o in outs] != want:
            problems.append(f"x.{suffix} gives {[list(o.shape) for o in outs]}, static {want}")
    if os.environ.pop(PWNED, None) is not None:
        problems.append("spec text ran as code while compiling")
    return problems


def profile(count: int, seed: int, pt_every: int = PT_EVERY, pt2_every: int = PT2_EVERY,
            echo: bool = False) -> tuple[Counter[str], list[str]]:
    """`count` generated specs through the whole path: (counts per outcome class, failures
    with their spec text)."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    accepted = 0
    with Guard() as guard, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for index in range(count):
            # a third of the specs lean on the hostile material, the rest mostly well-formed
            hostile = 0.3 if index % 3 == 2 else 0.04
            try:
                name, text = printed(generate(rng, hostile=hostile), rng)
            except PrinterFailure as failure:
                counts["FAILED: printer crash"] += 1
                failures.append(f"spec {index} of seed {seed}: {failure}")
                if echo:
                    print(f"FAILURE {failures[-1]}\n", flush=True)
                continue
            reply = guard.call({"text": text, "name": name})
            failure = judge(reply, text)
            problems = [failure] if failure else []
            if not problems and reply["outcome"] == "error":
                counts[f"located error: {kind(reply['message'])}"] += 1
                continue
            if not problems and reply["elements"] > WHOLE_PATH_ELEMENTS:
                counts["accepted: too large to run on this machine"] += 1
                continue
            if not problems:
                formats = []
                if accepted % pt_every == 0:
                    formats.append("pt")
                if accepted % pt2_every == 0:
                    formats.append("pt2")
                accepted += 1
                problems = whole_path(text, name)
                if not problems and formats:
                    try:
                        problems = artefact_problems(text, name, reply["shapes"], formats,
                                                     folder)
                    except Exception as error:
                        problems = [f"{type(error).__name__}: {str(error)[:1500]}"]
                if not problems:
                    counts["accepted: compiled (.py" + "".join(f", .{f}" for f in formats)
                           + "), built, forward shapes equal"] += 1
                    continue
            label = problems[0].replace("\\n", " ").split("\n")[0]
            counts[f"FAILED: {kind(label)}"] += 1
            report = (f"spec {index} of seed {seed} ({name}):\n- " + "\n- ".join(problems)
                      + f"\n--- spec text:\n{text}")
            failures.append(report)
            if echo:
                print(f"FAILURE {report}\n", flush=True)
    return counts, failures


def table(counts: Counter[str]) -> str:
    width = max((len(k) for k in counts), default=10)
    return "\n".join(f"  {k:<{width}}  {v:>6}" for k, v in sorted(counts.items(),
                                                                   key=lambda kv: -kv[1]))


def test_every_accepted_spec_compiles_builds_and_runs_to_its_static_shapes() -> None:
    counts, failures = profile(SPECS, seed=12)
    accepted = sum(v for k, v in counts.items() if k.startswith("accepted"))
    failed = sum(v for k, v in counts.items() if k.startswith("FAILED"))
    assert not failures, (f"{failed} of {SPECS} specs broke soundness\n{table(counts)}\n\n"
                          + "\n\n".join(failures[:8]))
    assert accepted >= SPECS // 10, f"too few accepted specs to test anything:\n{table(counts)}"


if __name__ == "__main__":  # make fuzz: python -m tests.test_soundness [count] [seed]
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    first_seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    start = time.perf_counter()
    found, broken = profile(total, first_seed, echo=True)
    print(f"soundness: {total} generated specs, seed {first_seed}, "
          f"{time.perf_counter() - start:.0f} s\n{table(found)}", flush=True)
    sys.exit(1 if broken else 0)
