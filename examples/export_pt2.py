"""torch.export: compile a spec to a .pt2 program with a dynamic batch, load it back, run it.

Run: python examples/export_pt2.py [out.pt2]
(the same file as `archc compile specs/googlenet.yaml -o googlenet.pt2 --init seed=0`)
"""

import json
import sys
import tempfile
from pathlib import Path

import torch

import archc
from archc.backends.artefacts import write_export

SPECS = Path(__file__).resolve().parent.parent / "specs"


def main(target: Path) -> None:
    spec = SPECS / "googlenet.yaml"
    model = archc.build(spec, seed=0).eval()  # seed: reproducible initial weights
    write_export(model, archc.network(spec), target)

    # anyone with torch can load it: no archc, no spec, no Python class needed
    extra = {"archc.json": ""}
    program = torch.export.load(target, extra_files=extra)
    info = json.loads(extra["archc.json"])
    print(f"{target.name}: {info['spec']} (archc {info['archc_version']}, "
          f"spec sha256 {info['spec_sha256'][:12]}...)")
    exported = program.module()
    for batch in (1, 3):  # the batch dimension is dynamic
        x = torch.randn(batch, 3, 96, 96)
        with torch.no_grad():
            y, expected = exported(x), model(x)
        torch.testing.assert_close(y, expected)
        print(f"batch {batch}: output {list(y.shape)}, equal to the eager module")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "googlenet.pt2")
