"""Stand-in executables for the checks that run a tool this machine has no cluster or disk for.

A test module writes its tool's stand-in as a shell script that logs its command line to
``calls`` next to it and prints the real capture the test chose (the answers are files in the
same directory, so a check's subprocess sees them). :class:`StubTools` is that directory;
:func:`first_on_path` puts it before the real tools for one test. :func:`printing` is the
simplest stand-in: one tool that prints one text.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TypeVar

import pytest

Stubs = TypeVar("Stubs", bound="StubTools")


class StubTools:
    """A directory of stub executables, the files they answer from, and the calls they logged."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(exist_ok=True)

    def install(self, tool: str, script: str) -> None:
        """``tool`` runs ``script`` (a ``#!/bin/sh`` text)."""
        path = self.directory / tool
        path.write_text(script)
        path.chmod(0o755)

    @property
    def calls(self) -> list[str]:
        """The command lines the stubs were run with, in order."""
        path = self.directory / "calls"
        return path.read_text().splitlines() if path.exists() else []


def first_on_path(stubs: Stubs, monkeypatch: pytest.MonkeyPatch) -> Stubs:
    """``stubs`` found before the real tools on PATH until the test ends."""
    monkeypatch.setenv("PATH", f"{stubs.directory}{os.pathsep}{os.environ['PATH']}")
    return stubs


def printing(path: Path, text: str, *, stderr: str = "", status: int = 0) -> Path:
    """An executable ``path`` that prints ``text`` (and ``stderr`` there) and exits ``status``;
    the texts are kept next to it."""
    output, errors = path.with_name(f"{path.name}.out"), path.with_name(f"{path.name}.err")
    output.write_text(text)
    errors.write_text(stderr)
    path.write_text(
        f"#!/bin/sh\ncat {shlex.quote(str(output))}\ncat {shlex.quote(str(errors))} >&2\n"
        f"exit {status}\n"
    )
    path.chmod(0o755)
    return path
