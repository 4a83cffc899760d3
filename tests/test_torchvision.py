"""The specs in specs/torchvision/ against torchvision's own models: torchvision's state_dict loads
strictly with no key remapping, the outputs agree in eval mode, and the parameter counts match.

torchvision is a test-only reference. Its compiled ops do not register against the CPU torch, so
`import torchvision` fails; the model classes need none of them, and import once
`torch.library.register_fake` is a no-op for the duration of the import."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

import archc
import archc.api
from tests.conftest import REPRESENTATIVES, count, randomise
from tests.conftest import TORCHVISION_SPECS as SPECS


def _register_fake_noop(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """Stands in for torch.library.register_fake: a decorator that returns its argument."""
    return lambda fn: fn


def _forget_torchvision() -> None:
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def import_torchvision_models() -> ModuleType:
    """`torchvision.models`: a plain import first, then one with register_fake patched out."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed", allow_module_level=True)
    try:
        return importlib.import_module("torchvision.models")
    except Exception:
        _forget_torchvision()  # drop the half-imported package before trying again
    original = torch.library.register_fake
    torch.library.register_fake = _register_fake_noop  # type: ignore[assignment]
    try:
        return importlib.import_module("torchvision.models")
    finally:
        torch.library.register_fake = original


models = import_torchvision_models()

# spec file → (torchvision constructor, a small input the network is valid at): every builder
# with a spec in specs/torchvision/
CASES: dict[str, tuple[Callable[[], nn.Module], list[int]]] = {
    "alexnet": (lambda: models.alexnet(weights=None), [3, 96, 96]),
    **{name: ((lambda name=name: getattr(models, name)(weights=None, init_weights=False)),
              [3, 64, 64])
       for name in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                    "vgg19_bn")},
    "googlenet": (lambda: models.googlenet(weights=None, aux_logits=False,
                                           transform_input=False, init_weights=False),
                  [3, 64, 64]),
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                    "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
                    "wide_resnet50_2", "wide_resnet101_2")},
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("densenet121", "densenet161", "densenet169", "densenet201")},
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("squeezenet1_0", "squeezenet1_1")},
    # with its auxiliary classifier, which runs while training only; eval is valid from 75x75,
    # but a spec is checked whole, and the auxiliary head needs 299x299
    "inception_v3": (lambda: models.inception_v3(weights=None, init_weights=False),
                     [3, 299, 299]),
    "mobilenet_v2": (lambda: models.mobilenet_v2(weights=None), [3, 64, 64]),
    "mobilenet_v3_large": (lambda: models.mobilenet_v3_large(weights=None), [3, 64, 64]),
    "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(weights=None), [3, 64, 64]),
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in models.list_models(module=models) if name.startswith("regnet_")},
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3")},
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                    "shufflenet_v2_x2_0")},
    **{f"efficientnet_b{b}": ((lambda b=b: getattr(models, f"efficientnet_b{b}")(weights=None)),
                              [3, 64, 64]) for b in range(8)},
    **{f"efficientnet_v2_{size}": (
        (lambda size=size: getattr(models, f"efficientnet_v2_{size}")(weights=None)), [3, 64, 64])
       for size in "sml"},
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 32, 32])
       for name in ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large")},
    # video classifiers over clips [3, T, H, W] (Kinetics-400)
    **{name: ((lambda name=name: getattr(models.video, name)(weights=None)), [3, 4, 32, 32])
       for name in ("r3d_18", "mc3_18", "r2plus1d_18")},
    # S3D's last pool is 2x7x7: a clip of 13 frames of 209x209 at least (archc's min input)
    "s3d": (lambda: models.video.s3d(weights=None), [3, 13, 209, 209]),
    # at 8x56x56 Swin3D's first stage cuts its 8x7x7 windows to the clip's 4 frames and shifts
    # along the rows and columns only; the later stages cut them to the whole map
    **{name: ((lambda name=name: getattr(models.video, name)(weights=None)), [3, 8, 56, 56])
       for name in ("swin3d_t", "swin3d_s", "swin3d_b")},
    # semantic segmentation, with the auxiliary head torchvision's weights have; no backbone
    # weights (nothing is downloaded)
    **{name: ((lambda name=name: getattr(models.segmentation, name)(
        weights=None, weights_backbone=None, aux_loss=True)), [3, 64, 64])
       for name in ("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50",
                    "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large")},
    # (no auxiliary head: torchvision's LRASPP has none)
    "lraspp_mobilenet_v3_large": (lambda: models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None), [3, 64, 64]),
    # at 64x64 Swin's first two stages pad, shift and mask their windows; the last two do not
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 64, 64])
       for name in ("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b")},
    # torchvision's MaxViT is built for its input size (224 by default), which its partitions
    # must tile at every stage
    "maxvit_t": (lambda: models.maxvit_t(weights=None), [3, 224, 224]),
    # torchvision's ViT runs at the image size it was built for only (224 by default)
    **{name: ((lambda name=name: getattr(models, name)(weights=None)), [3, 224, 224])
       for name in ("vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14")},
}
# compared output for output in `make test`: a representative of each family and of each
# construct (grouped convolutions: ResNeXt); every builder is compared so by `make zoo`
# (python -m tests.test_torchvision), and the others here by their keys and shapes
FULL = REPRESENTATIVES


def test_every_torchvision_spec_is_tested() -> None:
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(CASES)
    assert set(FULL) <= set(CASES)


# MViT, a video transformer of the zoo's stretch goal, is not written yet
NOT_YET = {"mvit_v1_b", "mvit_v2_s"}


def test_every_torchvision_builder_has_a_spec() -> None:
    """torchvision's own list of builders, not ours: every classification, segmentation and
    video model it registers has a drop-in spec, but MViT."""
    builders = {name for module in (models, models.segmentation, models.video)
                for name in models.list_models(module=module)}
    assert len(builders) == 80 + 6 + 9
    assert builders - NOT_YET == set(CASES)


def _randomise_batch_norm(model: nn.Module) -> None:
    """Freshly built batch norms are the identity in eval mode; random statistics and affine
    parameters make a misplaced or swapped norm visible in the outputs."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                size = module.num_features
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)


@pytest.mark.parametrize("name", FULL)
def test_spec_matches_torchvision(name: str) -> None:
    compare_outputs(name)


def compare_outputs(name: str, scripted: bool = False) -> None:
    """The spec's module loads torchvision's randomised state_dict strictly and gives its
    outputs in eval mode, with its parameter count, built and static; so does the file archc
    writes, run without archc, and with `scripted` the module's TorchScript."""
    make_reference, size = CASES[name]
    path = SPECS / f"{name}.yaml"
    torch.manual_seed(0)
    reference = make_reference().eval()
    # every weight and buffer at normal scale: torchvision's own init leaves some outputs near
    # 1e-9, where any tolerance passes anything
    randomise(reference, seed=3)
    _randomise_batch_norm(reference)
    ours = archc.build(path, inputs=size).eval()

    # the same keys by construction (names and nesting), BN buffers included; no remapping
    state = reference.state_dict()
    assert sorted(ours.state_dict()) == sorted(state)
    ours.load_state_dict(state, strict=True)

    # the same parameter count: the built module's, and the one archc infers statically
    expected = count(reference.parameters())
    assert count(ours.parameters()) == expected
    assert archc.network(path, inputs=size).total_params == expected  # (ViT: its size)

    # the same function in eval mode
    x = torch.randn(1, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = reference(x)
        got = ours(x)
    if isinstance(want, dict):  # segmentation: {"out", "aux"}, each at the input's size
        assert isinstance(got, dict) and list(got) == list(want) and "out" in want
        for key in want:
            assert got[key].shape == want[key].shape == (1, CLASSES[name], *size[1:])
            assert want[key].abs().mean() > 1e-2
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    whole = want
    if isinstance(want, dict):
        got, want = got["out"], want["out"]
    assert got.shape == want.shape
    assert got.shape[:2] == (1, CLASSES.get(name, 1000))
    assert want.abs().mean() > 1e-2  # outputs of order 1: a comparison that can fail
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)

    # the file `archc compile -o model.py` writes runs without archc, strict-loads the same
    # state_dict and gives the same outputs
    with torch.no_grad():
        alone = standalone(path, size, state)(x)
    torch.testing.assert_close(alone, whole, atol=1e-4, rtol=1e-4)
    if scripted:
        from archc.backends.artefacts import script

        with torch.no_grad():
            torch.testing.assert_close(script(ours)(x), whole, atol=1e-4, rtol=1e-4)


def standalone(path: Path, size: tuple[int, ...], state: dict[str, torch.Tensor]) -> nn.Module:
    """The spec's generated source executed as a file where archc cannot be imported, its
    network class made on the meta device (no initialisation) and given `state`, strictly."""
    text = archc.source(path, inputs=size)
    namespace: dict[str, Any] = {"__name__": f"standalone_{path.stem}"}
    saved = sys.modules.get("archc")
    sys.modules["archc"] = None  # type: ignore[assignment]  # `import archc` fails
    try:
        exec(compile(text, f"{path.stem}.py", "exec", dont_inherit=True), namespace)
    finally:
        sys.modules["archc"] = saved  # type: ignore[assignment]
    name = archc.network(path, inputs=size).name
    cls = next(value for key, value in namespace.items() if isinstance(value, type)
               and issubclass(value, nn.Module) and key.lower() == name.replace("_", "").lower())
    with torch.device("meta"):
        model = cls()
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


@contextmanager
def _widths_on_the_cpu() -> Iterator[None]:
    """RegNet's builder computes its widths with tensors, which the meta device cannot read
    back: they are computed on the CPU (the model itself is still made on the meta device)."""
    import torchvision.models.regnet as regnet

    original = regnet.BlockParams.from_init_params

    def on_cpu(*args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return original(*args, **kwargs)

    regnet.BlockParams.from_init_params = on_cpu  # type: ignore[method-assign]
    try:
        yield
    finally:
        regnet.BlockParams.from_init_params = original  # type: ignore[method-assign]


@pytest.mark.parametrize("name", sorted(set(CASES) - set(FULL)))
def test_spec_has_torchvisions_keys_and_shapes(name: str) -> None:
    # on the meta device: no memory and no initialisation, so the largest builders are cheap
    # (at the input torchvision's builder is made for: ViT's weights follow it)
    make_reference, size = CASES[name]
    with torch.device("meta"), _widths_on_the_cpu():
        reference = make_reference()
        ours = archc.build(SPECS / f"{name}.yaml", inputs=size)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    assert archc.network(SPECS / f"{name}.yaml", inputs=size).total_params == \
        count(reference.parameters())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_large", "efficientnet_b0"])
def test_training_gives_torchvisions_gradients(name: str) -> None:
    """One training step's gradients equal torchvision's: the in-place residual adds archc
    writes (`out += x`) leave autograd what it needs, as torchvision's own do, and stochastic
    depth drops the same branches from the same seed."""
    make_reference, size = CASES[name]
    torch.manual_seed(0)
    reference = make_reference().train()
    randomise(reference, seed=3)
    ours = archc.build(SPECS / f"{name}.yaml", inputs=size).train()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(4, *size, generator=torch.Generator().manual_seed(2))
    for model in (reference, ours):
        for module in model.modules():  # dropout draws its own masks: the same function
            if isinstance(module, nn.Dropout):
                module.eval()
        model.zero_grad()
        torch.manual_seed(5)  # stochastic depth's draws: the same for both
        (model(x) ** 2).mean().backward()
    grads = {k: p.grad for k, p in reference.named_parameters()}
    assert sum(g.abs().mean().item() for g in grads.values() if g is not None) > 1e-3
    for key, param in ours.named_parameters():
        torch.testing.assert_close(param.grad, grads[key], atol=1e-4, rtol=1e-3)


def test_inception_v3_returns_torchvisions_auxiliary_logits_while_training() -> None:
    """In training mode forward returns (logits, aux_logits) as torchvision's
    InceptionOutputs, element for element, from the same weights and dropout draws; in eval
    the logits alone."""
    make_reference, size = CASES["inception_v3"]
    torch.manual_seed(0)
    reference = make_reference()
    randomise(reference, seed=3)
    ours = archc.build(SPECS / "inception_v3.yaml")
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        outputs = []
        for model in (reference.train(), ours.train()):
            torch.manual_seed(5)  # the same dropout mask
            outputs.append(model(x))
        expected, got = outputs
        assert isinstance(got, tuple) and len(got) == 2
        for theirs, mine in zip(expected, got, strict=True):
            assert theirs.abs().mean() > 0.1  # of order 1: the comparison can fail
            torch.testing.assert_close(mine, theirs, atol=1e-4, rtol=1e-4)
        eval_out = ours.eval()(x)
        assert isinstance(eval_out, torch.Tensor)
        torch.testing.assert_close(eval_out, reference.eval()(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_static_counts_match_torchvisions_published_metadata(name: str) -> None:
    """Against torchvision's own published figures: GMACs to 3 decimals and parameters, and
    the smallest input it states."""
    weights = next(iter(models.get_model_weights(name)))
    meta = weights.meta
    report = archc.shapes(SPECS / f"{name}.yaml")  # at its input: the weights' resolution
    if name in CLASSES:
        assert [o[1] for o in report["outputs"]] == [CLASSES[name]] * len(report["outputs"])
        assert len(meta["categories"]) == CLASSES[name]
    assert list(report["inputs"].values()) == [[None, *figures_input(name)]]
    assert report["params"] == meta["num_params"]
    assert round(report["macs"] / 1e9, 3) == meta["_ops"]
    path = SPECS / f"{name}.yaml"
    smallest = archc.api.min_input(archc.network(path), path)
    assert smallest is not None
    if name in BUILT_FOR_ITS_SIZE:
        # torchvision states the size its model is built for: the weights' shapes follow the
        # input (the position embedding), and its class built at archc's smallest size runs
        assert smallest["params_at_smallest"] is not None
        assert archc.network(path).node(0).shape[2:] == tuple(meta["min_size"])
        low = smallest["smallest"][1]
        with torch.device("meta"):
            reference = getattr(models, name)(weights=None, image_size=low).eval()
            assert reference(torch.empty(1, 3, low, low)).shape == (1, 1000)
        assert count(reference.parameters()) == smallest["params_at_smallest"]
        return
    assert smallest["params_at_smallest"] is None
    if name not in STATED_ABOVE_NEED:
        # (a clip's frames are no size torchvision states: its min_size is the frame's)
        assert [smallest["dims"][d]["smallest"] for d in ("H", "W")] == list(meta["min_size"])
        return
    # torchvision states a larger size than its model needs: the model itself is the oracle,
    # run at archc's smallest frame (and clip length), where archc is right and it is not
    low = [smallest["dims"][d]["smallest"] for d in ("H", "W")]
    assert low < list(meta["min_size"])
    declared = list(archc.network(path).node(0).shape[1:])
    if "min_temporal_size" in meta:
        declared[1] = smallest["dims"]["D"]["smallest"]
        assert declared[1] <= meta["min_temporal_size"]
    with torch.device("meta"):
        reference = CASES[name][0]().eval()
        out = reference(torch.empty(1, *declared[:-2], *low))
        assert out.shape == (1, CLASSES.get(name, 1000))


# builders with other classes than ImageNet's 1000 (Kinetics-400's video classifiers)
CLASSES = {"r3d_18": 400, "mc3_18": 400, "r2plus1d_18": 400, "s3d": 400, "swin3d_t": 400,
           "swin3d_s": 400, "swin3d_b": 400,
           **dict.fromkeys(("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50",
                            "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
                            "lraspp_mobilenet_v3_large"), 21)}


def weights_input(name: str) -> list[int]:
    """The input torchvision's first weights for a builder were evaluated at, as published:
    [3, crop, crop], or for a video classifier [3, frames, crop height, crop width] with the
    clip length its docs state (clip_len=16)."""
    weights = next(iter(models.get_model_weights(name)))
    # (segmentation's weights are evaluated resized, not cropped)
    keywords = weights.transforms.keywords
    crop = keywords.get("crop_size", keywords.get("resize_size"))
    frame = list(crop) if isinstance(crop, (list, tuple)) else [crop, crop]
    clip = re.search(r"clip_len=(\d+)", weights.meta.get("_docs", ""))
    return [3, *([int(clip.group(1))] if clip else []), *frame]


def figures_input(name: str) -> list[int]:
    """The input torchvision's published figures are for: its weights' (`weights_input`), but
    for a clip of other length where its GMACs are published for that (FIGURES_CLIP)."""
    published = weights_input(name)
    if name in FIGURES_CLIP:
        assert published[1] > FIGURES_CLIP[name]
        published[1] = FIGURES_CLIP[name]
    return published


# builders whose published min_size is above what their model needs (EfficientNetV2's 33×33
# for 1×1, Swin's 224 or 256 for 1×1 — docs/analysis.md — and MaxViT's 224, where 221 makes
# the same maps)
STATED_ABOVE_NEED = {"efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l", "s3d",
                     "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
                     "maxvit_t"}
# builders whose published GMACs are for a clip of other length than their weights' evaluation
# (S3D: 16 frames, 8x fewer than its 128-frame clips; archc gives 143.833 GMACs at 128)
FIGURES_CLIP = {"s3d": 16, "swin3d_t": 16, "swin3d_s": 16, "swin3d_b": 16}
# builders whose weights' shapes follow the input size (ViT's position embedding): torchvision
# states the size its weights were made at as the smallest, archc the smallest the spec is
# valid at, where its own class, built for that size, runs (docs/analysis.md)
BUILT_FOR_ITS_SIZE = {"vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"}


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_draws_as_torchvision_s(mode: str) -> None:
    # the generated StochasticDepth is torchvision.ops.StochasticDepth: the same outputs from
    # the same seed while training, its input in eval mode, and the same printed form
    import torchvision.ops

    ours = archc.build(f"input: [4, 3, 3]\nlayers:\n  - stochastic_depth(0.3, mode='{mode}')\n")
    theirs = torchvision.ops.StochasticDepth(0.3, mode)
    x = torch.randn(32, 4, 3, 3)
    kept = 0.0
    for seed in range(8):
        outputs = []
        for model in (ours.train(), theirs.train()):
            torch.manual_seed(seed)
            outputs.append(model(x))
        torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
        kept += float(outputs[1].abs().sum())
    assert kept > 0  # some draws kept the input: the comparison can fail
    assert torch.equal(ours.eval()(x), theirs.eval()(x))
    assert repr(ours[0]) == repr(theirs)


def test_spec_declares_what_the_issue_asks() -> None:
    for path in sorted(SPECS.glob("*.yaml")):
        network = archc.network(path)  # what it writes and what it imports
        assert _load_yaml(path)["archc"] == 1 and network.name == path.stem, path
        assert network.doc is not None and "torchvision-compatible state_dict" in network.doc
        assert network.params["num_classes"] == CLASSES.get(path.stem, 1000), path
        # the resolution torchvision's weights were trained and evaluated at
        assert [list(network.node(i).shape[1:]) for i in network.inputs.values()] == \
            [figures_input(path.stem)]


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def zoo() -> int:
    """`make zoo`: every builder compared output for output, with its spec's length."""
    import time

    failed = 0
    print(f"{'builder':20} {'spec lines':>10} {'params':>12} {'GMACs':>7}  result")
    for name in sorted(CASES):
        path = SPECS / f"{name}.yaml"
        start = time.perf_counter()
        try:
            compare_outputs(name, scripted=True)
            result = "equal outputs (eager, the written file, TorchScript)"
        except Exception as error:  # a report of every builder, not the first failure
            failed += 1
            first = (str(error).splitlines() or [""])[0]
            result = f"FAILED: {type(error).__name__}: {first[:80]}"
        report = archc.shapes(path)
        lines = len(path.read_text().splitlines())
        print(f"{name:20} {lines:>10} {report['params']:>12,} {report['macs'] / 1e9:>7.3f}  "
              f"{result} ({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"{len(CASES) - failed} of {len(CASES)} builders equal torchvision's")
    return 1 if failed else 0


@pytest.mark.parametrize("version", ["", "_v2"])
@pytest.mark.parametrize(("size", "shift"), [((14, 14), 0), ((14, 14), 3), ((9, 12), 3),
                                             ((5, 6), 3), ((21, 7), 2)])
def test_window_attention_is_torchvisions_shifted_window_attention(
        size: tuple[int, int], shift: int, version: str) -> None:
    """The op's module against torchvision's own, weights shared: padding, the cyclic shift,
    the masks of wrapped windows and the relative position bias (V2: cosine scores, the bias
    MLP over the coordinates table, the key without bias); and the buffers a fresh module
    computes (the table of coordinates, the index of offsets) are torchvision's."""
    from torchvision.models import swin_transformer

    text = f"input: [{size[0]}, {size[1]}, 12]\nlayers:\n  - attn: window_attention{version}(" \
        f"3, 7, shift={shift})\n"
    ours = archc.build(text).eval()
    cls = getattr(swin_transformer, "ShiftedWindowAttention" + version[1:].upper())
    theirs = cls(12, [7, 7], [shift, shift], 3).eval()
    for key, buffer in theirs.named_buffers():
        torch.testing.assert_close(ours.get_buffer(f"attn.{key}"), buffer)
    randomise(theirs, seed=4)
    ours.load_state_dict({f"attn.{k}": v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, *size, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = theirs(x)
        assert want.abs().mean() > 0.1
        torch.testing.assert_close(ours(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("size", "shift"), [((4, 14, 14), (0, 0, 0)), ((4, 14, 14), (4, 3, 3)),
                                             ((9, 8, 15), (4, 3, 3)), ((16, 7, 5), (2, 3, 3))])
def test_window_attention_3d_is_torchvisions(size: tuple[int, int, int],
                                             shift: tuple[int, int, int]) -> None:
    """Video Swin's attention against torchvision's own, weights shared: windows cut to a
    shorter clip (and unshifted there), padding, the shift along some dims only, the masks."""
    from torchvision.models.video.swin_transformer import ShiftedWindowAttention3d

    text = f"input: [{', '.join(map(str, size))}, 12]\nlayers:\n  - attn: window_attention_3d(" \
        f"3, [8, 7, 7], shift={list(shift)})\n"
    ours = archc.build(text).eval()
    theirs = ShiftedWindowAttention3d(12, [8, 7, 7], list(shift), 3).eval()
    for key, buffer in theirs.named_buffers():
        torch.testing.assert_close(ours.get_buffer(f"attn.{key}"), buffer)
    randomise(theirs, seed=4)
    ours.load_state_dict({f"attn.{k}": v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, *size, 12, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = theirs(x)
        assert want.abs().mean() > 0.1
        torch.testing.assert_close(ours(x), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("version", ["", "_v2"])
@pytest.mark.parametrize("size", [(8, 8), (7, 5), (1, 1)])
def test_patch_merging_is_torchvisions(size: tuple[int, int], version: str) -> None:
    from torchvision.models import swin_transformer

    ours = archc.build(f"input: [{size[0]}, {size[1]}, 6]\nlayers:\n"
                       f"  - merge: patch_merging{version}\n")
    theirs = randomise(getattr(swin_transformer, "PatchMerging" + version[1:].upper())(6), seed=4)
    ours.load_state_dict({f"merge.{k}": v for k, v in theirs.state_dict().items()}, strict=True)
    x = torch.randn(2, *size, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


if __name__ == "__main__":
    sys.exit(zoo())
