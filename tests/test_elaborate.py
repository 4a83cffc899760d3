"""Elaboration: module paths and numbering, references, blocks, repeat, conditions, `in`."""

from __future__ import annotations

import archc
from archc.ir import Network


def paths(network: Network) -> list[str]:
    return [n.path for n in network.nodes() if n.module is not None]


def test_unnamed_entries_are_numbered_by_position() -> None:
    net = archc.network("input: [3, 8, 8]\nlayers:\n  - conv(4, 3)\n  - stem: relu\n"
                        "  - maxpool(2)\n")
    assert paths(net) == ["0", "stem", "2"]


def test_named_list_is_a_container_and_inline_blocks_splice() -> None:
    net = archc.network("""
input: [3, 16, 16]
blocks:
  stage:
    inline: true
    params: [out]
    body: conv(out, 3, padding=1); relu; maxpool(2)
layers:
  - features: stage(4); stage(8)
""")
    assert paths(net) == [f"features.{i}" for i in range(6)]


def test_block_instances_are_nested_modules() -> None:
    net = archc.network("""
input: [3, 16, 16]
blocks:
  unit:
    params: [out]
    body:
      - conv: conv(out, 3, padding=1)
      - relu
layers:
  - unit(4)
  - second: unit(8)
""")
    assert paths(net) == ["0.conv", "0.1", "second.conv", "second.1"]
    assert net.modules[("second",)].args == {"out": 8}


def test_merges_and_unnamed_branch_lists_are_transparent() -> None:
    net = archc.network("""
input: [3, 8, 8]
layers:
  - concat:
      - conv(4, 1)
      - conv(2, 1); relu
      - identity
""")
    assert paths(net) == ["0", "1", "2"]  # identity is a name for its input, not a module
    assert net.output_shapes() == [(None, 9, 8, 8)]


def test_references_and_outputs() -> None:
    net = archc.network("""
input: [3, 8, 8]
layers:
  - a: conv(4, 1)
  - b: conv(6, 1)
  - '@a'
  - c: conv(2, 1)
outputs: [b, c]
""")
    assert net.output_shapes() == [(None, 6, 8, 8), (None, 2, 8, 8)]
    c = net.node(net.outputs[1][1])
    assert net.node(c.inputs[0]).name == "a"


def test_repeat_index_and_conditions_on_in() -> None:
    net = archc.network("""
input: [3, 32, 32]
layers:
  - repeat: 3
    as: i
    body:
      - conv(4 * (i + 1), 3, padding=1)
      - if: in.h > 8
        then: maxpool(2)
""")
    assert net.output_shapes() == [(None, 12, 8, 8)]


def test_params_override_and_default_expressions() -> None:
    spec = """
params: {width: 4, double: false}
input: [3, 8, 8]
layers:
  - conv(width * 2 if double else width, 1)
"""
    assert archc.network(spec).output_shapes() == [(None, 4, 8, 8)]
    assert archc.network(spec, width=5, double=True).output_shapes() == [(None, 10, 8, 8)]


def test_several_named_inputs() -> None:
    net = archc.network("""
inputs: {image: [3, 8, 8], meta: [5]}
layers:
  - flatten
  - concat: ['@image; flatten', '@meta']
  - linear(2)
""")
    assert list(net.inputs) == ["image", "meta"]
    assert net.output_shapes() == [(None, 2)]


def test_inferred_arguments_never_written() -> None:
    net = archc.network("input: [3, 28, 28]\nlayers:\n  - conv(6, 5, padding=2); "
                        "maxpool(2); flatten; linear(10)\n")
    linear = next(n for n in net.nodes() if n.op == "linear")
    assert linear.attrs["in_features"] == 6 * 14 * 14
