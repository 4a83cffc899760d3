"""Quickstart: build a network from a spec, look at its static shapes, run it.

Run: python examples/quickstart.py
"""

from pathlib import Path

import torch

import archc

SPECS = Path(__file__).resolve().parent.parent / "specs"


def main() -> None:
    spec = SPECS / "googlenet.yaml"

    # 1. Static shapes: no tensor runs, no torch needed for this part.
    report = archc.shapes(spec, depth=1)
    for layer in report["layers"]:
        print(f"{layer['path']:<12} {layer['shape']}")

    # 2. Build an nn.Module, overriding a spec parameter, and run it.
    model = archc.build(spec, num_classes=100).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        y = model(x)
    print("output", tuple(y.shape), "parameters", sum(p.numel() for p in model.parameters()))

    # 3. A spec can also be text: here a small MLP (seed 004's 1000 -> 100 -> 10).
    mlp = archc.build("""
name: mlp
input: [1000]
layers:
  - hidden: linear(100)
  - relu
  - out: linear(10)
""")
    print(mlp)


if __name__ == "__main__":
    main()
