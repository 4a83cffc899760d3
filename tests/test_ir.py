"""The IR: module membership computed once, inputs told apart from ops, and attribute values
compared as the generated code must see them."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

import archc
from archc.ir import same, verify

SPECS = Path(__file__).resolve().parent.parent / "specs"
SPEC = """
input: [3, 8, 8]
blocks:
  unit:
    body:
      - conv: conv(4, 3, padding=1)
      - relu
layers:
  - stem: conv(4, 1)
  - body: [unit, unit]
  - head: flatten; linear(2)
"""


def test_members_of_each_module_by_hand() -> None:
    network = archc.network(SPEC)
    ops = {path: [network.node(i).op for i in ids] for path, ids in network.members.items()}
    assert ops[()] == ["conv", "conv", "relu", "conv", "relu", "flatten", "linear"]
    assert ops[("stem",)] == ["conv"]
    assert ops[("body",)] == ["conv", "relu", "conv", "relu"]
    assert ops[("body", "0")] == ["conv", "relu"] and ops[("body", "1", "conv")] == ["conv"]
    assert ops[("head",)] == ["flatten", "linear"]
    assert network.members is network.members  # computed once


def test_inputs_are_not_ops() -> None:
    network = archc.network(SPEC)
    assert [n.is_input for n in network.nodes()][:2] == [True, False]
    assert all(i not in ids for ids in network.members.values()
               for i in network.inputs.values())


def test_same_tells_apart_what_python_calls_equal() -> None:
    assert True == 1 and not same(True, 1)  # Python says equal: the point of the test
    assert 1.0 == 1 and not same(1.0, 1)
    assert same((1, 2.0), (1, 2.0)) and not same((1, 2), (1, 2.0))
    assert math.nan != math.nan and same(math.nan, math.nan)
    assert -0.0 == 0.0 and not same(-0.0, 0.0)  # written differently in code
    assert not same([1], (1,))


BRANCHES = """
input: [3, 8, 8]
layers:
  - stem: conv(4, 1)
  - mix:
      concat:
        - left: conv(2, 1)
        - right: conv(2, 1); relu
  - side: conv(5, 1)
  - '@mix'
  - flatten
"""


def test_boundary_by_hand() -> None:
    network = archc.network(BRANCHES)
    ids = {node.path: node.id for node in network.nodes()}
    stem, side = ids["stem"], ids["side"]
    concat = next(n.id for n in network.nodes() if n.op == "concat")
    mix = network.module_boundary(("mix",))
    assert mix.reads == (stem,) and mix.gives == (concat,) and mix.output == concat
    # the unused side path reads the concat and gives nothing: its output is its last node
    dead = network.module_boundary(("side",))
    assert dead.reads == (concat,) and dead.gives == () and dead.output == side
    root = network.module_boundary(())
    assert root.reads == tuple(network.inputs.values())
    assert root.gives == tuple(i for _, i in network.outputs)
    assert network.boundary(network.members[("mix",)]) is mix  # remembered


def test_descendants_agree_with_networkx() -> None:
    import networkx as nx

    for text in (SPEC, BRANCHES):
        network = archc.network(text)
        for node in network.nodes():
            assert network.descendants(node.id) == nx.descendants(network.graph, node.id)


def test_verify_finds_a_drifted_shape() -> None:
    network = archc.network(SPEC)
    assert verify(network, shapes=True) is network
    conv = next(n for n in network.nodes() if n.op == "conv")
    network.node_list[conv.id] = replace(conv, shape=(conv.shape[0], 5, 8, 8))  # not 4 maps
    verify(network)  # the structure still holds
    with pytest.raises(AssertionError, match="drifted"):
        verify(network, shapes=True)


def test_units_are_renamed_with_their_modules() -> None:
    # the units of a module are remembered by path: naming children (readable) must not leave
    # the numbered names behind
    network = archc.network("input: [3, 8, 8]\nlayers:\n  - a: conv(4, 3)\n  - relu\n"
                            "  - b: conv(4, 3)\n")
    keys = [key for key, _ in network.units(())]
    assert keys == ["a", "relu", "b"], keys
    assert network.units(()) is network.units(())


@pytest.mark.parametrize("spec", sorted(str(p.relative_to(SPECS)) for p in SPECS.rglob("*")
                                        if p.suffix in (".yaml", ".arch")))
def test_what_is_remembered_by_path_survives_renaming(spec: str) -> None:
    # readable renames modules after elaboration asked units, chains and boundaries of them:
    # what it keeps must be what the renamed network gives when asked afresh
    network = archc.network(SPECS / spec)
    remembered = dict(network.by_path)
    asked = {path: (network.units(path), network.is_chain(path), network.module_boundary(path))
             for path in network.modules}
    network.by_path.clear()
    fresh = {path: (network.units(path), network.is_chain(path), network.module_boundary(path))
             for path in network.modules}
    assert asked == fresh
    assert all(key[1] in network.modules for key in remembered)
