"""Generated Python laid out at 100 columns (archc/backends/layout.py), and every spec's source
clean under ruff (E, F, W, B, I at 100 columns)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc.backends.layout import fit
from tests.conftest import ALL_SPECS


def same_code(before: list[str], after: list[str]) -> bool:
    return ast.dump(ast.parse("\n".join(before))) == ast.dump(ast.parse("\n".join(after)))


def test_a_long_call_is_broken_one_argument_a_line() -> None:
    line = "x = nn.Sequential(" + ", ".join(f"nn.Linear({i}, {i})" for i in range(12)) + ")"
    out = fit([line], width=60)
    assert out[0] == "x = nn.Sequential(" and out[-1] == ")"
    assert out[1:-1] == [f"    nn.Linear({i}, {i})," for i in range(12)]
    assert same_code([line], out)


def test_inner_items_are_broken_only_when_they_still_do_not_fit() -> None:
    inner = "f(" + ", ".join(f"a{i}=[{i}, {i}]" for i in range(8)) + ")"
    line = f"        y = g(short, {inner}, last=(1, 2))"
    out = fit([line], width=50)
    assert all(len(text) <= 50 for text in out), out
    assert "            short," in out and "            last=(1, 2)," in out
    assert "            f(" in out  # the inner call broken inside its own brackets
    assert same_code([line.strip()], [text[8:] for text in out])


def test_what_fits_or_cannot_be_broken_stays() -> None:
    short = "z = f(1, 2)"
    word = "w = " + "a" * 120
    assert fit([short, word], width=40) == [short, word]
    star = "v = f(" + ", ".join(["x"] * 40) + ", *rest)"
    assert fit([star], width=40) == [star]


def test_an_item_of_a_list_spread_over_lines_is_broken_with_its_comma() -> None:
    item = "            Block(" + ", ".join(f"argument_{i}" for i in range(10)) + "),"
    out = fit([item], width=60)
    assert out[0] == "            Block(" and out[-1] == "            ),"
    assert len(out) == 12


@pytest.mark.skipif(subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                   capture_output=True).returncode != 0,
                    reason="ruff (a dev dependency) is not installed")
def test_every_specs_source_is_clean_under_ruff(tmp_path: Path) -> None:
    for index, path in enumerate(ALL_SPECS):
        (tmp_path / f"spec_{index}.py").write_text(archc.source(path))
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
         "--select", "E,F,W,B,I", "--line-length", "100", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    # and laid out as a formatter lays it out: ruff format would change nothing
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--no-cache", "--isolated", "--line-length",
         "100", "--diff", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
