"""Where a test finds a capture: the project's own (``tests/fixtures/<tool>/``) first, else
the shared one (``../shared/fixtures/<tool>/``), both read in place."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES, shared_fixtures


def own_or_shared(tool: str, name: str) -> Path:
    """The capture ``name`` of ``tool``'s output, own before shared."""
    own = FIXTURES / tool / name
    return own if own.exists() else shared_fixtures() / tool / name
