"""Reading the smartctl captures of tests/fixtures/smartctl as check_smart gets them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES

OWN = FIXTURES / "smartctl"


def exit_status(path: Path) -> int:
    """The exit status a fixture was captured with: its ``_exitN`` suffix, else 0."""
    _, _, tail = path.stem.rpartition("_exit")
    return int(tail) if tail.isdigit() else 0


def read_fixture(path: Path) -> str:
    """A fixture as check_smart gets smartctl's output: decoded, undecodable bytes replaced."""
    return path.read_bytes().decode("utf-8", errors="replace")
