"""Load a TorchScript artefact written by `archc compile` and run it on a random batch.

Usage: python examples/run_torchscript.py model.pt 3x96x96
"""

import sys
import warnings

import torch


def main(path: str, shape: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in torch >= 2.10; it still loads
        model = torch.jit.load(path)
    x = torch.randn(1, *(int(d) for d in shape.split("x")))
    with torch.no_grad():
        y = model.eval()(x)
    print(f"{path}: input {list(x.shape)} -> output {list(y.shape)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
