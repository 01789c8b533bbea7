"""What a real server in a test needs from this machine; a skip (a failure with CI=true)
saying how to get it when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def require_installed(name: str, package: str, *paths: str | Path) -> None:
    """Every one of ``paths`` exists: ``name``, from the Debian ``package``."""
    if not all(os.path.exists(path) for path in paths):
        pytest.skip(f"{name} is not installed (apt install {package})")


def require_root(why: str) -> None:
    """We run as root, which the server needs (``why``)."""
    if os.geteuid() != 0:
        pytest.skip(why)
