"""Shared helpers: the spec files the suite runs over, and running a built module."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted([*(ROOT / "specs").rglob("*.yaml"), *(ROOT / "specs").rglob("*.arch")])
CONSTRUCT_FILES = sorted((ROOT / "examples" / "constructs").glob("*.yaml"))
ALL_SPECS = SPEC_FILES + CONSTRUCT_FILES


def spec_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture
def root() -> Path:
    return ROOT
