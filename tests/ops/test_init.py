"""The weight initialisation table (archc.ops.init) against torch.nn.init itself.

Input: `SCHEMES` and the helper source `initializer_lines()` (exec'd here: tests may run code,
archc never does). Output: assertions that each scheme, applied by that helper or by a built
spec, gives the very tensors that calling torch.nn.init by hand with the same seed gives
(the oracle below is written out, not read from the table); that the attribute's doc and
checks come from the table; and exactly how the helper's text differs from the template in
archc/backends/python.py that it is to replace.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import archc
from archc.errors import ArchcError
from archc.ops import OPS
from archc.ops.init import INIT_DOC, SCHEMES, check_init, initializer_lines
from archc.ops.registry import DEFAULT_INIT, OpError

# the oracle: what each scheme means, as torch.nn.init spells it (kaiming as torchvision's
# ResNet and VGG: fan_out, relu); the numbers a spec passes go after the name
ORACLE: dict[str, Callable[..., Any]] = {
    "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
    "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, mode="fan_out",
                                                          nonlinearity="relu"),
    "xavier_normal": lambda w: nn.init.xavier_normal_(w, gain=1.0),
    "xavier_uniform": lambda w: nn.init.xavier_uniform_(w, gain=1.0),
    "zeros": lambda w: nn.init.zeros_(w),
    "ones": lambda w: nn.init.ones_(w),
    "normal": lambda w, std: nn.init.normal_(w, mean=0.0, std=std),
    "constant": lambda w, value: nn.init.constant_(w, val=value),
}
NUMBERS = {"normal": (0.02,), "constant": (0.5,)}  # what the tests pass to each scheme
APPLIED = [name for name, scheme in SCHEMES.items() if scheme.code is not None]
LAYERS: dict[str, Callable[[], nn.Module]] = {
    "conv": lambda: nn.Conv2d(3, 8, 3),
    "linear": lambda: nn.Linear(16, 4),
}


def helper(lines: list[str]) -> Callable[[nn.Module, Any], nn.Module]:
    """The `initialized` function these source lines define, as generated code has it."""
    namespace: dict[str, Any] = {"nn": nn, "torch": torch}
    exec(compile("\n".join(lines), "<initialized>", "exec"), namespace)
    function: Callable[[nn.Module, Any], nn.Module] = namespace["initialized"]
    return function


def argument(name: str) -> str | tuple[Any, ...]:
    """A scheme as generated code passes it: 'zeros', ('normal', 0.02)."""
    return (name, *NUMBERS[name]) if name in NUMBERS else name


def by_torch(make: Callable[[], nn.Module], name: str, seed: int) -> nn.Module:
    """The oracle: construct, then nn.init by hand and a zero bias, from one seed."""
    torch.manual_seed(seed)
    module = make()
    ORACLE[name](module.weight, *NUMBERS.get(name, ()))
    nn.init.zeros_(module.bias)
    return module


def test_the_oracle_covers_the_table() -> None:
    assert set(ORACLE) == set(APPLIED) and set(SCHEMES) == {DEFAULT_INIT, *APPLIED}
    assert all(len(NUMBERS.get(name, ())) == len(SCHEMES[name].numbers) for name in APPLIED)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("name", APPLIED)
def test_the_helper_initialises_as_torch_does(name: str, layer: str) -> None:
    initialized = helper(initializer_lines())
    for seed in (0, 7):
        torch.manual_seed(seed)
        ours = initialized(LAYERS[layer](), argument(name))
        theirs = by_torch(LAYERS[layer], name, seed)
        assert torch.equal(ours.weight, theirs.weight), (name, layer, seed)
        assert torch.equal(ours.bias, theirs.bias) and not ours.bias.any()


def test_the_helper_is_valid_python_within_the_line_length() -> None:
    lines = initializer_lines()
    ast.parse("\n".join(lines))
    assert all(len(line) <= 99 for line in lines)


@pytest.mark.parametrize("name", list(SCHEMES))
def test_each_code_reads_only_the_weight_and_its_numbers(name: str) -> None:
    scheme = SCHEMES[name]
    if scheme.code is None:
        assert name == DEFAULT_INIT
        return
    tree = ast.parse(scheme.code, mode="eval")
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert names == {"nn", "w", *(n.name for n in scheme.numbers)}


def spec(layers: str, name: str) -> str:
    init = repr(name) if name not in NUMBERS else repr([name, *NUMBERS[name]])
    return ("name: init_net\ninput: [3, 8, 8]\nlayers:\n"
            + "".join(f"  - \"{layer.format(init=init)}\"\n" for layer in layers.split("|")))


@pytest.mark.parametrize("name", list(SCHEMES))
def test_every_scheme_is_accepted_by_a_spec_and_sets_the_weights_as_torch(name: str) -> None:
    net = archc.build(spec("conv(8, 3, init={init})|flatten|linear(4, init={init})", name),
                      seed=3)
    torch.manual_seed(3)  # the oracle: the same layers, in the same order, from the same seed
    conv = nn.Conv2d(3, 8, 3)
    if name != DEFAULT_INIT:
        ORACLE[name](conv.weight, *NUMBERS.get(name, ()))
        nn.init.zeros_(conv.bias)
    linear = nn.Linear(8 * 6 * 6, 4)
    if name != DEFAULT_INIT:
        ORACLE[name](linear.weight, *NUMBERS.get(name, ()))
        nn.init.zeros_(linear.bias)
    built = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [type(m) for m in built] == [nn.Conv2d, nn.Linear]
    for ours, theirs in zip(built, (conv, linear), strict=True):
        assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    torch.manual_seed(3)
    untouched = nn.Conv2d(3, 8, 3)  # PyTorch's own: what every scheme but the default changes
    assert torch.equal(built[0].weight, untouched.weight) == (name == DEFAULT_INIT)
    source = archc.source(spec("conv(8, 3, init={init})", name))
    assert ("def initialized(" in source) == (name != DEFAULT_INIT)


@pytest.mark.parametrize("name", [n for n in APPLIED if SCHEMES[n].matrix])
def test_matrix_schemes_refuse_a_vector_weight(name: str) -> None:
    with pytest.raises(ArchcError, match="at least 2 dims") as error:
        archc.network(spec("bn(init={init})", name))
    vector = [SCHEMES[n].form for n in APPLIED if not SCHEMES[n].matrix]
    assert error.value.expected == ", ".join(vector[:-1]) + " or " + vector[-1]
    assert error.value.expected == "'zeros', 'ones', ['normal', std] or ['constant', value]"


@pytest.mark.parametrize(("init", "message"), [
    ("'kaiming'", "unknown init scheme 'kaiming'"),
    ("['normal']", "init 'normal' takes 1 number"),
    ("['zeros', 1]", "init 'zeros' takes no numbers"),
    ("['normal', -1]", "the std of init 'normal' must not be negative"),
    ("['constant', 1e39]", "the value of init 'constant' does not fit a float32 weight"),
])
def test_the_checks_come_from_the_table(init: str, message: str) -> None:
    with pytest.raises(ArchcError, match=re.escape(message)):
        archc.network(f"input: [3, 8, 8]\nlayers:\n  - \"conv(8, 3, init={init})\"\n")


def test_nan_is_no_std_and_inf_is_a_constant_value() -> None:
    with pytest.raises(OpError, match="must not be negative"):
        check_init("linear", {"init": ("normal", math.nan)}, (4, 16))
    check_init("linear", {"init": ("constant", math.inf)}, (4, 16))
    check_init("linear", {"init": ("constant", -math.inf)}, (4, 16))


def test_the_attribute_doc_lists_the_table() -> None:
    assert INIT_DOC == (
        "weight initialisation: 'default' (PyTorch's), 'kaiming_normal', 'kaiming_uniform', "
        "'xavier_normal', 'xavier_uniform', 'zeros', 'ones', ['normal', std], "
        "['constant', value]; other than 'default', the bias starts at zero")
    assert all(op.attr("init").doc == INIT_DOC for op in OPS.values()  # type: ignore[union-attr]
               if op.attr("init") is not None)
