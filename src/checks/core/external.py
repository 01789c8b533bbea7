"""Running the tools checks read from (smartctl, repquota, chronyc, varnishstat, …).

One place for what every such call needs: an argument list (never a shell), the C locale
so that output parses the same on every machine, a timeout that is what is left of the
check's ``-t``, and a clear UNKNOWN when the tool is missing or cannot be run. Exit codes
are returned, not judged: smartctl, for one, reports disk state in its exit bits.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence

from checks.core.errors import CannotCheck
from checks.core.runtime import doing, remaining

log = logging.getLogger(__name__)

#: Where tools live on Debian and RHEL even when PATH (cron, Icinga) omits the sbin dirs.
EXTRA_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class Completed:
    """A finished tool run: its exit code and what it printed."""

    __slots__ = ("argv", "returncode", "stderr", "stdout")

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr


def find(tool: str) -> str:
    """The path of ``tool``: on PATH, else in the usual sbin/bin dirs; UNKNOWN if absent.

    (Searched by hand: ``shutil.which`` would import shutil, with bz2 and lzma, ~2 ms.)
    """
    if os.sep in tool:
        return tool
    for directory in [*os.environ.get("PATH", "").split(os.pathsep), *EXTRA_PATH]:
        candidate = os.path.join(directory or ".", tool)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise CannotCheck(f"{tool} is not installed (not found on PATH or in {', '.join(EXTRA_PATH)})")


def run(argv: Sequence[str], what: str | None = None, stdin: str | None = None) -> Completed:
    """Run ``argv`` to completion within the check's remaining time and return its output.

    ``what`` names the wait for a timeout message (default: ``running <tool>``). The tool's
    exit code is left to the caller; a tool that cannot start at all is UNKNOWN.
    """
    command = [find(argv[0]), *argv[1:]]
    environment = dict(os.environ, LC_ALL="C", LANG="C")
    log.info("running %s", " ".join(command))
    with doing(what or f"running {os.path.basename(argv[0])}"):
        try:
            finished = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                errors="replace",
                env=environment,
                timeout=remaining(),
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            raise CannotCheck(f"{argv[0]} did not finish within {expired.timeout:.0f} s") from None
        except OSError as error:
            raise CannotCheck(f"cannot run {command[0]}: {error.strerror}") from None
    log.debug("%s exited %d; stderr: %s", argv[0], finished.returncode, finished.stderr.strip())
    return Completed(command, finished.returncode, finished.stdout, finished.stderr)
