"""Op roles and the other declarations stages read instead of op names (issue #13).

Input: the registry (`OPS`, `Role`) and the source of the stages that treat kinds of ops alike
(lint, the diagram backend). Output: assertions that every op declares a role `register`
accepts, that what the stages ask (merges, folds, fills, features, biases) follows from the
declarations, and that those stages name no op and read no op's attribute by name.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

import archc
from archc.backends import graphviz
from archc.lint import lint
from archc.ops import MERGES, OPS, Role
from archc.ops.registry import register
from tests.conftest import ROOT


def test_every_op_declares_a_role_and_every_role_is_used() -> None:
    assert all(isinstance(op.role, Role) for op in OPS.values())
    assert {op.role for op in OPS.values()} == set(Role)


def test_register_refuses_a_role_that_is_no_role() -> None:
    relu = OPS["relu"]
    with pytest.raises(AssertionError, match="Role"):
        register(replace(relu, name="relu_again", torch=("nn.NotReLU",),
                         role="activation"))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="role and arity"):
        register(replace(relu, name="relu_again", torch=("nn.NotReLU",), role=Role.MERGE))
    assert "relu_again" not in OPS


def test_merges_are_the_ops_of_the_merge_role_and_take_any_number_of_branches() -> None:
    # (resize, matmul and window_departition refuse all but two)
    assert MERGES == ("concat", "add", "mul", "resize", "matmul", "window_departition")
    assert all((op.arity is None) == (op.name in MERGES) for op in OPS.values())


def test_family_is_the_role_name_the_reference_groups_by() -> None:
    assert OPS["conv"].family == "convolution" and OPS["bn"].family == "normalization"
    assert all(op.family == op.role.value for op in OPS.values())


def test_fold_stages_put_the_weighted_op_first_then_norm_then_activation() -> None:
    weighted = {op.name for op in OPS.values() if op.role.weighted}
    assert weighted == {"conv", "conv_transpose", "linear"}
    assert Role.NORMALISER.fold_stage == 1 and Role.ACTIVATION.fold_stage == 2
    assert Role.POOL.fold_stage is None and not Role.POOL.weighted


@pytest.mark.parametrize(("roles", "fits"), [
    ([], True), ([Role.NORMALISER], True), ([Role.ACTIVATION], True),
    ([Role.NORMALISER, Role.ACTIVATION], True), ([Role.ACTIVATION, Role.NORMALISER], False),
    ([Role.NORMALISER, Role.NORMALISER], False), ([Role.ACTIVATION, Role.ACTIVATION], False),
    ([Role.CONVOLUTION], False), ([Role.POOL], False),
])
def test_what_may_follow_a_weighted_op_in_a_fold(roles: list[Role], fits: bool) -> None:
    assert graphviz.Diagram._fits(roles) is fits


def test_every_role_has_a_fill() -> None:
    assert set(graphviz.FILLS) == set(Role)


def test_features_and_biases_are_declared() -> None:
    assert {op.name for op in OPS.values() if op.reads_features} == {
        "linear", "attention", "class_token", "position_embedding"}
    assert {op.name for op in OPS.values() if op.bias} == {"conv", "conv_transpose", "linear"}
    assert OPS["conv"].has_bias({"bias": True}) and not OPS["conv"].has_bias({"bias": False})
    assert not OPS["layernorm"].has_bias({"bias": True})  # its shift is no per-channel bias


def test_the_bias_lint_follows_the_declarations() -> None:
    def warnings(layers: str) -> list[str]:
        net = archc.network(f"input: [3, 8, 8]\nlayers:\n  - {layers}\n")
        return [w.message for w in lint(net)]

    assert warnings("conv_transpose(4, 2, stride=2); bn") == [
        "conv_transpose has a bias that the bn after it cancels"]
    assert warnings("conv(4, 3); bn(affine=false)") == []  # bn without its own shift
    assert warnings("conv(4, 3); groupnorm(2)") == []  # a group's mean mixes channels


@pytest.mark.parametrize(("size", "layer", "ignored"), [
    (9, "maxpool(2)", "1 input rows (size 9, kernel 2, stride 2)"),
    (9, "maxpool(2, ceil_mode=true)", None),
    (9, "avgpool(2)", "1 input rows (size 9, kernel 2, stride 2)"),
    (9, "avgpool(2, ceil_mode=true)", None),
    (10, "avgpool(3, stride=2)", "1 input rows (size 10, kernel 3, stride 2)"),
    (10, "avgpool(3, stride=2, ceil_mode=true)", None),
    (11, "maxpool(3)", "2 input rows (size 11, kernel 3, stride 3)"),
    (11, "maxpool(3, 3, 1)", None),  # the padding covers the rest
    (11, "maxpool(3, ceil_mode=true)", None),
    (10, "conv(4, 3, stride=2)", "1 input rows (size 10, kernel 3, stride 2)"),
    (11, "conv(4, 3, stride=2)", None),
    (9, "conv(4, 1, stride=2)", None),  # a strided 1x1 skips rows by design
])
def test_dropped_rows_follow_the_ops_output_size(size: int, layer: str,
                                                 ignored: str | None) -> None:
    """The lint reads how many windows an op makes from its output size, so a rounding rule
    (ceil_mode) is the op's own: rows dropped = size − where the last window ends."""
    net = archc.network(f"input: [3, {size}, 16]\nlayers:\n  - {layer}\n")
    found = [w.message for w in lint(net) if "rows" in w.message]  # not the columns
    op = layer.split("(")[0]
    assert found == ([f"{op} ignores the last {ignored}"] if ignored else [])


STAGES = [ROOT / "archc" / "lint.py", ROOT / "archc" / "backends" / "graphviz.py"]


@pytest.mark.parametrize("path", STAGES, ids=lambda p: p.name)
def test_lint_and_diagrams_name_no_op_and_read_no_op_attribute(path: object) -> None:
    source = path.read_text()  # type: ignore[attr-defined]
    quoted = set(re.findall(r"""["']([A-Za-z_]\w*)["']""", source))
    assert not quoted & set(OPS), "branch on a declaration (Op field, Role), not an op name"
    attributes = {a.name for op in OPS.values() for a in op.attrs}
    read = set(re.findall(r"""attrs(?:\.get\(|\[)["'](\w+)["']""", source))
    assert not read & attributes, "an op's attributes are read through its declarations"


def test_register_ties_identity_to_passthrough() -> None:
    identity = OPS["identity"]
    with pytest.raises(AssertionError, match="passthrough"):
        register(replace(identity, name="identity_again", torch=("nn.NotIdentity",),
                         role=Role.RESHAPE))
    assert [op.name for op in OPS.values() if op.passthrough] == ["identity"]
