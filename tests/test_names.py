"""Names: every name a spec writes stands unchanged in PyTorch, or `check` refuses it.

The oracle for "would this name break the module" is torch itself: the names nn.Module and the
containers have, and what Python does to an attribute name (mangling, keywords)."""

from __future__ import annotations

import keyword
from pathlib import Path

import pytest
import torch

import archc
from archc.names import MODULE_ATTRIBUTES


def test_the_reserved_list_covers_every_public_attribute_of_the_installed_torch() -> None:
    public = set()
    for container in (torch.nn.Module, torch.nn.Sequential, torch.nn.ModuleList):
        public |= {n for n in dir(container) if not n.startswith("_")}
    public |= {n for n in vars(torch.nn.Module()) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES, sorted(public - MODULE_ATTRIBUTES)


def spec(name: str) -> str:
    return f"input: [3, 8, 8]\nlayers:\n  - {name}: conv(4, 3)\n  - relu\n"


@pytest.mark.parametrize("name", ["training", "forward", "parameters", "state_dict", "to",
                                  "cuda", "eval", "append", "archc_source"])
def test_module_attributes_are_refused_with_a_suggestion(name: str) -> None:
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(spec(name))
    error = caught.value
    assert error.span.line == 3 and "attribute of nn.Module" in error.message
    assert error.suggestions and error.suggestions[0] not in MODULE_ATTRIBUTES


@pytest.mark.parametrize("name", ["__fc", "_x", "__init__", "__class__"])
def test_private_and_mangled_names_are_refused(name: str) -> None:
    with pytest.raises(archc.ArchcError, match="starts with _") as caught:
        archc.network(spec(name))
    assert caught.value.span.line == 3


def test_what_python_would_do_to_those_names_is_why() -> None:
    # the reason for the rule, shown with Python itself: `__fc` inside a class is mangled
    namespace: dict[str, object] = {}
    exec("class Net(__import__('torch').nn.Module):\n"
         "    def __init__(self):\n        super().__init__()\n"
         "        self.__fc = __import__('torch').nn.Linear(1, 1)\n", namespace)
    net = namespace["Net"]()  # type: ignore[operator]
    assert list(net.state_dict()) == ["_Net__fc.weight", "_Net__fc.bias"]


@pytest.mark.parametrize("name", sorted(keyword.kwlist)[:12])
def test_keywords_are_refused(name: str) -> None:
    text = f"input: [3, 8, 8]\nlayers:\n  - '{name}': conv(4, 3)\n"
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(text)
    assert caught.value.span.line == 3


def test_a_long_name_is_refused_before_it_becomes_a_file_name() -> None:
    with pytest.raises(archc.ArchcError, match="characters long"):
        archc.network(spec("a" * 300))
    net = archc.network(spec("a" * 100))  # the limit itself is fine
    assert net.node(1).module == ("a" * 100,)


def test_templates_are_checked_once_their_name_is_known() -> None:
    text = ("input: [3, 8, 8]\nparams: {p: \"'train'\"}\nlayers:\n"
            "  - '{p}ing': conv(4, 3)\n")
    with pytest.raises(archc.ArchcError, match=r"attribute of nn\.Module") as caught:
        archc.network(text)
    assert caught.value.span.line == 4


@pytest.mark.parametrize("param", ["nn", "torch", "self", "max", "in_channels", "class"])
def test_parameters_that_would_hide_names_of_the_generated_code_are_refused(param: str) -> None:
    text = (f"input: [3, 8, 8]\nblocks:\n  b:\n    params: ['{param}']\n    body: relu\n"
            "layers:\n  - b(1)\n")
    with pytest.raises(archc.ArchcError) as caught:
        archc.network(text)
    assert caught.value.span.line == 4


def test_names_that_python_accepts_build_with_exactly_those_keys() -> None:
    text = "input: [3, 8, 8]\nlayers:\n  - Conv_1: conv(4, 3)\n  - match: conv(4, 3)\n"
    model = archc.build(text)
    assert list(model.state_dict()) == ["Conv_1.weight", "Conv_1.bias", "match.weight",
                                        "match.bias"]


@pytest.mark.parametrize("stem", ["class", "_private", "é" + "x" * 150, "9lives"])
def test_a_file_name_always_gives_a_network_name_that_compiles(stem: str, tmp_path: Path) -> None:
    path = tmp_path / f"{stem}.yaml"
    path.write_text("input: [4]\nlayers:\n  - linear(2)\n", encoding="utf-8")
    net = archc.network(path)
    assert net.name.isascii() and net.name.isidentifier() and len(net.name) <= 100
    assert archc.build(path)(torch.randn(2, 4)).shape == (2, 2)
