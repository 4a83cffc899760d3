"""Warnings for valid but suspicious specs: located, printed on stderr, exit status unchanged."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import archc
from archc.cli import main
from archc.lint import lint
from tests.conftest import ROOT


def warnings_of(text: str) -> list[str]:
    return [w.message for w in lint(archc.network(text))]


def test_bias_before_batch_norm() -> None:
    assert warnings_of("input: [3, 8, 8]\nlayers:\n  - conv(8, 3, padding=1); bn\n") == [
        "conv has a bias that the bn after it cancels"]
    assert warnings_of("input: [3, 8, 8]\nlayers:\n  - conv(8, 3, padding=1, bias=false); bn\n"
                       ) == []


def test_pooling_that_ignores_input_rows() -> None:
    found = warnings_of("input: [3, 9, 8]\nlayers:\n  - maxpool(2)\n")
    assert found == ["maxpool ignores the last 1 input rows (size 9, kernel 2, stride 2)"]
    assert warnings_of("input: [3, 9, 9]\nlayers:\n  - maxpool(2, ceil_mode=true)\n") == []
    assert warnings_of("input: [3, 8, 8]\nlayers:\n  - conv(4, 1, stride=2)\n") == []


def test_unused_side_path() -> None:
    found = warnings_of("input: [4]\nlayers:\n  - side: linear(3)\n  - '@x'\n  - linear(2)\n")
    assert found == ["'side' is never used"]


# what torchvision's own architectures waste, which a faithful spec inherits and the lint says:
# VGG-BN keeps each convolution's bias under its batch norm, and SqueezeNet's first
# convolution leaves the last row and column of a 224x224 image unread
INHERITED = {
    **{f"vgg{n}_bn": ["conv has a bias that the bn after it cancels"] for n in (11, 13, 16, 19)},
    "squeezenet1_0": ["conv ignores the last 1 input columns (size 224, kernel 7, stride 2)",
                      "conv ignores the last 1 input rows (size 224, kernel 7, stride 2)"],
    "squeezenet1_1": ["conv ignores the last 1 input columns (size 224, kernel 3, stride 2)",
                      "conv ignores the last 1 input rows (size 224, kernel 3, stride 2)"],
}


def test_the_torchvision_zoo_warns_only_of_what_torchvision_itself_does() -> None:
    for path in sorted((ROOT / "specs" / "torchvision").glob("*.yaml")):
        found = sorted(w.message for w in lint(archc.network(path)))
        assert found == INHERITED.get(path.stem, []), path


def test_check_prints_warnings_and_still_succeeds(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - conv(8, 3, padding=1); bn\n")
    result = CliRunner().invoke(main, ["check", str(spec)])
    assert result.exit_code == 0
    assert f"{spec}:3:5: warning: conv has a bias" in result.stderr
    result = CliRunner().invoke(main, ["shapes", str(spec), "--format", "json"])
    assert result.exit_code == 0 and "warning:" in result.stderr and "warning" not in result.stdout


def test_linear_on_a_feature_map_warns_and_names_flatten() -> None:
    net = archc.network("input: [3, 8, 8]\nlayers:\n  - conv(4, 3)\n  - relu\n"
                        "  - linear(10)\n")
    # valid PyTorch: linear acts on the last dim, as torch itself shows
    import torch

    out = torch.nn.Linear(6, 10)(torch.nn.Conv2d(3, 4, 3)(torch.randn(1, 3, 8, 8)))
    assert list(out.shape[1:]) == list(net.output_shapes()[0][1:])
    (warning,) = lint(net)
    assert warning.span.line == 5 and "flatten" in warning.render()
    assert "144 features" in warning.render()


def test_linear_on_features_or_a_sequence_does_not_warn() -> None:
    assert not lint(archc.network("input: [3, 8, 8]\nlayers:\n  - conv(4, 3)\n  - flatten\n"
                                  "  - linear(10)\n"))
    assert not lint(archc.network("input: [16, 32]\nlayers:\n  - linear(8)\n  - relu\n"
                                  "  - linear(4)\n"))
