"""Values as people read them (archc/format.py), by hand."""

from __future__ import annotations

import pytest

from archc.format import human, human_bytes, render_value, short_value


@pytest.mark.parametrize(("value", "text"), [
    (3, "3"), (0.5, "0.5"), (True, "true"), (False, "false"), ("same", "'same'"),
    ([1, [2, 3]], "[1, [2, 3]]"), ((4, 4), "[4, 4]"), ([], "[]"),
])
def test_values_read_as_a_spec_writes_them(value: object, text: str) -> None:
    assert render_value(value) == text


def test_short_values_stop_early_and_say_so() -> None:
    assert short_value(list(range(10))) == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
    cut = short_value(list(range(100_000)), limit=20)
    assert cut == "[0, 1, 2, 3, 4, 5..." and len(cut) == 20
    assert short_value("x" * 100, limit=10) == "'xxxxxx..."


@pytest.mark.parametrize(("count", "text"), [
    (0, "0"), (999, "999"), (1_000, "1.00K"), (25_557_032, "25.56M"), (3 * 10**9, "3.00G"),
])
def test_counts(count: int, text: str) -> None:
    assert human(count) == text


@pytest.mark.parametrize(("count", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1.00 KiB"), (3 * 2**19, "1.50 MiB"),
    (5 * 2**30, "5.00 GiB"),
])
def test_sizes_in_binary_units(count: int, text: str) -> None:
    assert human_bytes(count) == text
