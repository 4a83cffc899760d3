"""archc.report: the shape report as JSON data and as the table people read.

The expected numbers are worked out by hand here (each with its formula) and checked again
against torch: parameter and buffer counts are `numel()` of the built module's tensors, output
shapes come from forward hooks, MACs from the textbook conv / linear formula applied in hooks
(tests/conftest.py). Nothing is copied from archc's own output."""

from __future__ import annotations

import io
import json
from typing import Any

import click
import pytest
import torch
from rich.console import Console

import archc
from archc import report
from archc.report import COLUMNS, DEFAULT_COLUMNS, parse_columns, render_table, shape_report
from tests.conftest import ROOT, count, measured_macs

# conv → bn → relu → flatten → linear on one 3x8x8 input
TINY = """name: tiny
doc: three layers
input: [3, 8, 8]
layers:
  - conv(4, 3, stride=2, padding=1)
  - bn
  - relu
  - flatten
  - head: linear(5)
"""
# by hand: the conv's output side is (8 + 2·1 - 3) // 2 + 1 = 4
CONV_OUT = 4 * 4 * 4  # elements of [4, 4, 4]
CONV_PARAMS = 4 * 3 * 3 * 3 + 4  # weight out·in·k·k, bias: 112
BN_PARAMS = 2 * 4  # weight and bias per channel: 8
BN_BUFFERS = 4 + 4 + 1  # running mean, running var, num_batches_tracked
LINEAR_PARAMS = 64 * 5 + 5  # 325
CONV_MACS = CONV_OUT * 3 * 3 * 3  # each output a dot product of in_channels·k·k: 1728
LINEAR_MACS = 64 * 5  # 320
FLOAT = 4  # bytes of a float32
INPUT_BYTES = 3 * 8 * 8 * FLOAT  # 768


def tiny_rows() -> list[dict[str, Any]]:
    """The rows of TINY's report, every number by hand (docs/analysis.md for FLOPs and the
    receptive field)."""
    field = {"rf": [3, 3], "stride": [2, 2], "rf_start": [0, 0], "rf_whole": [False, False]}
    whole = {"rf": [8, 8], "stride": [None, None], "rf_start": [None, None],
             "rf_whole": [True, True]}  # after flatten every output reads the whole input
    feature_map = [None, 4, 4, 4]
    return [
        {"path": "0", "op": "conv", "kind": "op", "depth": 1, "label": "conv 3x3 /2, 4",
         "shape": feature_map, "params": CONV_PARAMS, "macs": CONV_MACS,
         "flops": 2 * CONV_MACS + CONV_OUT,  # a multiply and an add per MAC, one bias add
         "memory": CONV_OUT * FLOAT, **field},
        {"path": "1", "op": "bn", "kind": "op", "depth": 1, "label": "bn",
         "shape": feature_map, "params": BN_PARAMS, "macs": 0,
         "flops": 2 * CONV_OUT,  # at inference a scale and a shift per element
         "memory": CONV_OUT * FLOAT, **field},
        {"path": "2", "op": "relu", "kind": "op", "depth": 1, "label": "relu",
         "shape": feature_map, "params": 0, "macs": 0, "flops": CONV_OUT,  # one compare each
         "memory": CONV_OUT * FLOAT, **field},
        {"path": "3", "op": "flatten", "kind": "op", "depth": 1, "label": "flatten",
         "shape": [None, 64], "params": 0, "macs": 0, "flops": 0,  # a view
         "memory": 64 * FLOAT, **whole},
        {"path": "head", "op": "linear", "kind": "op", "depth": 1, "label": "linear 5",
         "shape": [None, 5], "params": LINEAR_PARAMS, "macs": LINEAR_MACS,
         "flops": 2 * LINEAR_MACS + 5, "memory": 5 * FLOAT, **whole},
    ]


def test_the_json_report_of_a_small_network_by_hand() -> None:
    data = archc.shapes(TINY)
    allocated = 3 * CONV_OUT * FLOAT + 5 * FLOAT  # conv, bn, relu, linear (flatten is a view)
    assert {k: v for k, v in data.items() if k != "layers"} == {
        "name": "tiny",
        "doc": "three layers",
        "params": CONV_PARAMS + BN_PARAMS + LINEAR_PARAMS,  # 445
        "buffers": BN_BUFFERS,
        "macs": CONV_MACS + LINEAR_MACS,  # 2048
        "flops": sum(r["flops"] for r in tiny_rows()),  # the hand-counted rows': 4357
        "memory": {
            "dtype": "float32", "element_size": FLOAT, "batch": 1,
            "inputs": INPUT_BYTES,
            "activations": allocated,
            # the caller's input stays; while bn runs, the conv's output and bn's are live
            "peak": INPUT_BYTES + 2 * CONV_OUT * FLOAT,
            "peak_at": "1",
            "training": INPUT_BYTES + allocated,  # backward keeps every activation
        },
        "rf_input": "x",
        "inputs": {"x": [None, 3, 8, 8]},
        "outputs": [[None, 5]],
        "output_names": ["output"],
        "parameters": {},
    }
    assert data["layers"] == tiny_rows()
    assert json.loads(json.dumps(data)) == data  # JSON-ready: nothing but JSON values


def test_the_json_report_agrees_with_the_built_module() -> None:
    data = archc.shapes(TINY)
    model = archc.build(TINY).eval()
    assert data["params"] == count(model.parameters()) > 400
    assert data["buffers"] == count(model.buffers()) > 0
    x = torch.randn(1, 3, 8, 8)
    outputs: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_hook(
        lambda m, a, out, name=name: outputs.__setitem__(name, out))
        for name, module in model.named_children()]
    macs = measured_macs(model, [x])
    for handle in handles:
        handle.remove()
    assert data["macs"] == macs[""] > 2000
    for row in data["layers"]:
        name = row["path"]
        out = outputs[name]
        assert row["shape"] == [None, *out.shape[1:]], name
        assert row["memory"] == out.numel() * out.element_size() > 0, name
        assert row["params"] == count(model.get_submodule(name).parameters()), name
        assert row["macs"] == macs[name], name


PAIRS = """name: pairs
input: [3, 8, 8]
blocks:
  pair:
    params: [c]
    body:
      - conv(c, 3, padding=1)
      - relu
layers:
  - stem: pair(4)
  - add: [pair(4), identity]
  - flatten
  - linear(2)
"""


def test_blocks_are_rows_with_their_members_below_and_depth_cuts_them() -> None:
    data = archc.shapes(PAIRS)
    model = archc.build(PAIRS)
    rows = [(r["path"], r["kind"], r["depth"], r.get("label")) for r in data["layers"]]
    assert rows == [
        ("stem", "block", 1, "pair(4)"), ("stem.0", "op", 2, "conv 3x3, 4"),
        ("stem.1", "op", 2, "relu"),
        # the network has a forward (an add): its unnamed children are named after their op
        ("pair", "block", 1, "pair(4)"), ("pair.0", "op", 2, "conv 3x3, 4"),
        ("pair.1", "op", 2, "relu"),
        ("identity", "function", 1, None), ("add", "function", 1, None),  # no modules
        ("flatten", "op", 1, "flatten"), ("linear", "op", 1, "linear 2"),
    ]
    by_path = {r["path"]: r for r in data["layers"]}
    # a block's row totals its members: by hand, and as torch counts the submodule
    stem, second = 4 * 3 * 9 + 4, 4 * 4 * 9 + 4  # 3 and 4 channels in
    assert (by_path["stem"]["params"], by_path["pair"]["params"]) == (stem, second)
    assert by_path["stem"]["params"] == count(model.get_submodule("stem").parameters())
    assert by_path["pair"]["macs"] == 4 * 8 * 8 * (4 * 9) > 0
    assert by_path["add"]["params"] == 0 and by_path["add"]["shape"] == [None, 4, 8, 8]
    shallow = archc.shapes(PAIRS, depth=1)["layers"]
    assert [r["path"] for r in shallow] == ["stem", "pair", "identity", "add", "flatten", "linear"]
    assert [r for r in data["layers"] if r["depth"] == 1] == shallow


@pytest.mark.parametrize(("dtype", "size"), [("float16", 2), ("float64", 8)])
def test_memory_is_in_bytes_of_the_dtype(dtype: str, size: int) -> None:
    data = shape_report(archc.network(TINY), dtype=dtype)
    assert data["memory"]["element_size"] == size and data["memory"]["dtype"] == dtype
    assert [r["memory"] for r in data["layers"]] == [
        CONV_OUT * size, CONV_OUT * size, CONV_OUT * size, 64 * size, 5 * size]
    assert data["memory"]["inputs"] == 3 * 8 * 8 * size
    assert data["macs"] == CONV_MACS + LINEAR_MACS  # counts do not depend on the dtype


# ------------------------------------------------------------------ the table


def table(data: dict[str, Any], columns: tuple[str, ...] = DEFAULT_COLUMNS,
          width: int = 120) -> list[str]:
    out = io.StringIO()
    render_table(data, report.Terminal(out, width), columns)
    return out.getvalue().splitlines()


def cells(lines: list[str]) -> list[list[str]]:
    """The table's rows as cells (rich draws │ between cells, the plain layout too); the
    header and rule rows are left out."""
    return [[c.strip() for c in line.split("│")] for line in lines if "│" in line]


def totals(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines[-3:]]


TINY_CELLS = [  # layer, op, output shape, params, MACs: counts people read (1728 → 1.73K)
    ["x", "input", "[N, 3, 8, 8]", "", ""],
    ["0", "conv 3x3 /2, 4", "[N, 4, 4, 4]", f"{CONV_PARAMS}", "1.73K"],
    ["1", "bn", "[N, 4, 4, 4]", f"{BN_PARAMS}", ""],
    ["2", "relu", "[N, 4, 4, 4]", "", ""],
    ["3", "flatten", "[N, 64]", "", ""],
    ["head", "linear 5", "[N, 5]", f"{LINEAR_PARAMS}", f"{LINEAR_MACS}"],
]
TINY_TOTALS = [
    "output [N, 5]   params 445 (445)   buffers 9",
    "MACs 2.05K   FLOPs 4.36K",  # 2048 and 4357
    "memory (float32, batch 1): peak 1.25 KiB, training 1.52 KiB",  # 1280 B, 1556 B
]


def test_the_table_shows_each_layer_and_the_totals() -> None:
    lines = table(archc.shapes(TINY))
    assert lines[0].strip() == "tiny"
    header = [c.strip() for c in lines[1].replace("┃", "│").split("│")]
    assert header == ["layer", "op", "output shape", "params", "MACs"]
    assert cells(lines[2:-3]) == TINY_CELLS
    assert totals(lines) == TINY_TOTALS


def rich_table(data: dict[str, Any], columns: tuple[str, ...], width: int) -> list[str]:
    """The table as rich's own Table draws the same rows (the oracle for the layout)."""
    from rich.table import Table

    drawn = Table(title=data["name"], title_justify="left", show_edge=False, pad_edge=False)
    drawn.add_column("layer", no_wrap=True)
    for column in columns:
        drawn.add_column(report._HEADERS[column], no_wrap=column != "op",
                         justify="left" if column in ("op", "shape") else "right")
    for name, dims in data["inputs"].items():
        first = {"op": "input", "shape": report._shape(dims)}
        drawn.add_row(name, *(first.get(c, "") for c in columns))
    for row in data["layers"]:
        drawn.add_row("  " * (row["depth"] - 1) + row["path"].rsplit(".", 1)[-1],
                      *(report._cell(row, c) for c in columns))
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(drawn)
    return [line.rstrip() for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("spec", ["resnet50", "googlenet"])
def test_the_table_is_laid_out_as_richs_table_lays_it_out(spec: str) -> None:
    path = ROOT / "specs" / ("torchvision/resnet50.yaml" if spec == "resnet50" else
                             "googlenet.yaml")
    data = archc.shapes(path)
    ours = [line.rstrip() for line in table(data, COLUMNS, width=400)]
    assert ours[:-3] == rich_table(data, COLUMNS, 400)
    assert len(ours) == len(data["layers"]) + len(data["inputs"]) + 6


def test_a_terminal_gets_bold_blocks_and_a_pipe_plain_text() -> None:
    data = archc.shapes(ROOT / "specs" / "vgg.yaml")
    out = io.StringIO()
    render_table(data, report.Terminal(out, 100, styled=True))
    styled = out.getvalue().splitlines()
    assert styled[1].startswith("\x1b[1mlayer") and "\x1b[2mx\x1b[0m" in styled[3]
    assert any(line.startswith("\x1b[1mfeature") for line in styled)
    plain = table(data, width=100)
    assert "\x1b" not in "".join(plain)
    assert [click.unstyle(line) for line in styled] == plain


def test_a_narrow_console_wraps_the_op_column_and_nothing_else() -> None:
    data = archc.shapes(ROOT / "specs" / "googlenet.yaml")
    lines = table(data, DEFAULT_COLUMNS, width=80)
    # the op column narrows to OP_WIDTH and no further: the table is then a little wider
    assert lines[2].split("╇")[1] == "━" * (report.OP_WIDTH + 2)
    assert max(len(line) for line in lines[:-3]) == len(lines[1]) < 90
    wrapped = [line for line in lines if line.startswith(" " * 16 + "│")]
    assert wrapped and all(line.split("│")[1].strip() for line in wrapped)  # the op goes on
    assert all(len(line.split("│")) == 5 for line in lines[3:-3])
    # the wrapped op reads as the whole op: nothing is lost
    first = next(i for i, line in enumerate(lines) if "inception(64, [96, 128]," in line)
    op = lines[first].split("│")[1].strip() + " " + lines[first + 1].split("│")[1].strip()
    assert op == "inception(64, [96, 128], [16, 32], 32)"


def test_every_column_can_be_shown_and_none_is_cut_short() -> None:
    lines = table(archc.shapes(TINY), COLUMNS, width=40)  # narrower than the table
    header = [c.strip() for c in lines[1].replace("┃", "│").split("│")]
    assert header == ["layer", "op", "output shape", "params", "MACs", "FLOPs", "memory", "RF",
                      "stride"]
    rows = {row[0]: row[1:] for row in cells(lines[2:-3])}
    assert rows["0"] == ["conv 3x3 /2, 4", "[N, 4, 4, 4]", "112", "1.73K", "3.52K", "256 B",
                         "3", "2"]
    assert rows["3"][-2:] == ["all", "-"]  # the whole input; no stride after flatten
    assert "…" not in "\n".join(lines)


def test_block_rows_are_indented_and_labels_with_brackets_are_shown_as_written() -> None:
    text = PAIRS.replace("params: [c]", "params: [c, {k: [3, 3]}]").replace(
        "conv(c, 3,", "conv(c, k,")
    lines = table(archc.shapes(text))
    rows = cells(lines[2:-3])
    assert rows[1][:2] == ["stem", "pair(4, [3, 3])"]  # the arguments as a spec writes them
    stem = next(i for i, line in enumerate(lines) if line.startswith("stem "))
    assert lines[stem + 1].startswith("  0 ") and lines[stem + 2].startswith("  1 ")
    assert rows[2][:3] == ["0", "conv 3x3, 4", "[N, 4, 8, 8]"]  # members one level in


# ------------------------------------------------------------------ columns


def test_parse_columns() -> None:
    assert parse_columns("all") == COLUMNS
    assert parse_columns(" RF, shape,rf ,") == ("rf", "shape")  # case, spaces, repeats
    with pytest.raises(ValueError, match="unknown column 'speed'"):
        parse_columns("op,speed")
    with pytest.raises(ValueError, match="no columns given"):
        parse_columns(" , ")
    assert set(DEFAULT_COLUMNS) <= set(COLUMNS)
