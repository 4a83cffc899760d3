"""The seed networks: every shape the tutorials printed comes out of `archc shapes --format
json`, sub-blocks checked on their own with --block, as the tutorials tested them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SPECS, run_cli


def shapes(spec: str, *args: str) -> dict[str, list[int | None]]:
    code, out, err = run_cli("shapes", str(SPECS / spec), "--format", "json", *args)
    assert code == 0, err
    report = json.loads(out)
    table = {row["path"]: row["shape"] for row in report["layers"]}
    table["<output>"] = report["outputs"][0]
    return table


def test_googlenet_blocks() -> None:
    table = shapes("googlenet.yaml", "--depth", "1")
    assert [table[f"block{i}"] for i in range(1, 6)] == [
        [None, 64, 23, 23], [None, 192, 11, 11], [None, 480, 5, 5], [None, 832, 2, 2],
        [None, 1024, 1, 1]]
    assert table["<output>"] == [None, 10]


def test_one_inception_on_96x96() -> None:
    table = shapes("googlenet.yaml", "--block", "inception", "-p", "c1=64", "-p", "c2=[48, 64]",
                   "-p", "c3=[64, 96]", "-p", "c4=32", "--input", "3x96x96")
    assert table["<output>"] == [None, 256, 96, 96]


def test_resnet_blocks() -> None:
    table = shapes("resnet.yaml", "--depth", "1")
    assert [table[f"block{i}"] for i in range(1, 6)] == [
        [None, 64, 45, 45], [None, 64, 22, 22], [None, 128, 11, 11], [None, 256, 6, 6],
        [None, 512, 1, 1]]
    assert table["<output>"] == [None, 10]


@pytest.mark.parametrize(("args", "expected"), [
    (["-p", "out=32", "--input", "32x96x96"], [None, 32, 96, 96]),
    (["-p", "out=32", "-p", "same_shape=false", "--input", "3x96x96"], [None, 32, 48, 48]),
])
def test_residual_block_alone(args: list[str], expected: list[int | None]) -> None:
    assert shapes("resnet.yaml", "--block", "residual_block", *args)["<output>"] == expected


def test_densenet_blocks() -> None:
    table = shapes("densenet.yaml", "--depth", "1")
    assert table["block1"] == [None, 64, 24, 24]
    assert table["block2"] == [None, 1024, 1, 1]
    assert table["<output>"] == [None, 10]
    # dense_block(3, 12, 3) on 3x96x96 gives 39 channels (3 + 3 x 12)
    dense = shapes("densenet.yaml", "--block", "dense_block", "-p", "growth_rate=12",
                   "-p", "num_layers=3", "--input", "3x96x96")
    assert dense["<output>"] == [None, 39, 96, 96]
    # transition(3, 12) gives 12x48x48
    transition = shapes("densenet.yaml", "--block", "transition", "-p", "out=12",
                        "--input", "3x96x96")
    assert transition["<output>"] == [None, 12, 48, 48]
    # d2l's DenseBlock(2, 3, 10) on 3x8x8 gives 23 channels
    d2l = shapes("densenet.yaml", "--block", "dense_block", "-p", "growth_rate=10",
                 "-p", "num_layers=2", "--input", "3x8x8")
    assert d2l["<output>"] == [None, 23, 8, 8]


def test_vgg_block_and_stack() -> None:
    block = shapes("vgg.yaml", "--block", "vgg_block", "-p", "num_convs=3", "-p", "out=128",
                   "--input", "64x300x300")
    assert block["<output>"] == [None, 128, 150, 150]
    stack = shapes("vgg.yaml", "--input", "3x256x256", "--depth", "1")
    assert stack["feature"] == [None, 512, 8, 8]
    assert shapes("vgg.yaml")["<output>"] == [None, 10]


def test_d2l_resnet18_stages() -> None:
    table = shapes("resnet18_d2l.yaml", "--depth", "1")
    assert [table[b] for b in ("b1", "b2", "b3", "b4", "b5")] == [
        [None, 64, 56, 56], [None, 64, 56, 56], [None, 128, 28, 28], [None, 256, 14, 14],
        [None, 512, 7, 7]]
    assert table["<output>"] == [None, 10]


def test_lenet_shapes() -> None:
    table = shapes("lenet.yaml")
    assert [table[str(i)] for i in (0, 2, 3, 5, 6)] == [
        [None, 6, 28, 28], [None, 6, 14, 14], [None, 16, 10, 10], [None, 16, 5, 5],
        [None, 400]]
    assert shapes("lenet_bn.yaml")["8"] == [None, 256]
    assert table["<output>"] == [None, 10]


def test_alexnet_cifar() -> None:
    table = shapes("alexnet.yaml")
    assert table["max_pool1"] == [None, 64, 13, 13]
    assert table["max_pool2"] == [None, 64, 4, 4]
    assert table["flatten"] == [None, 1024]
    assert table["<output>"] == [None, 10]


def test_nin() -> None:
    table = shapes("nin.yaml", "--depth", "1")
    assert table["0"] == [None, 96, 54, 54]
    assert table["<output>"] == [None, 10]


def test_tudui_and_mnist_cnn_linear_inputs() -> None:
    tudui = shapes("tudui.yaml")
    assert tudui["model1.6"] == [None, 1024]
    assert tudui["<output>"] == [None, 10]
    mnist = shapes("mnist_cnn.yaml")
    assert mnist["6"] == [None, 64 * 7 * 7]


def test_mlp() -> None:
    table = shapes("mlp.yaml")
    assert table["0"] == [None, 100]
    assert table["<output>"] == [None, 10]


def test_tudui_state_dict_keys_match_the_seed() -> None:
    import archc

    keys = list(archc.build(SPECS / "tudui.yaml").state_dict())
    assert keys[:2] == ["model1.0.weight", "model1.0.bias"]
    assert "model1.7.weight" in keys and "model1.8.weight" in keys


def test_every_seed_spec_reads_like_a_paper(root: Path) -> None:
    for path in sorted(SPECS.glob("*.yaml")):
        text = path.read_text()
        assert "doc:" in text, path
        assert "in_channels" not in text and "in_features" not in text, path
