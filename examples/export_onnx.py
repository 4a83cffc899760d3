"""ONNX: compile a spec to .onnx (dynamic batch), check it with onnx and run it with onnxruntime.

Needs the onnx extra: pip install 'archc[onnx]' (onnx, onnxscript, onnxruntime).
Run: python examples/export_onnx.py [out.onnx]
(the same file as `archc compile specs/resnet.yaml -o resnet.onnx --init seed=0`)
"""

import sys
import tempfile
from pathlib import Path

import torch

import archc
from archc.backends.artefacts import write_onnx

SPECS = Path(__file__).resolve().parent.parent / "specs"


def main(target: Path) -> None:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        sys.exit("this example needs the onnx extra: pip install 'archc[onnx]'")
    spec = SPECS / "resnet.yaml"
    model = archc.build(spec, seed=0).eval()
    write_onnx(model, archc.network(spec), target)

    onnx.checker.check_model(str(target), full_check=True)
    metadata = {p.key: p.value for p in onnx.load(str(target)).metadata_props}
    print(f"{target.name}: valid ONNX, metadata {metadata['archc.json'][:60]}...")
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    for batch in (1, 3):  # the batch dimension is dynamic
        x = torch.randn(batch, 3, 96, 96)
        (y,) = session.run(None, {name: x.numpy()})
        with torch.no_grad():
            expected = model(x)
        torch.testing.assert_close(torch.from_numpy(y), expected, rtol=1e-4, atol=1e-4)
        print(f"batch {batch}: onnxruntime output {list(y.shape)}, equal to the eager module")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(Path(folder) / "resnet.onnx")
