"""Running the tools checks read from (smartctl, repquota, chronyc, varnishstat, …).

One place for what every such call needs: an argument list (never a shell), the C locale
so that output parses the same on every machine, a timeout that is what is left of the
check's ``-t``, and a clear UNKNOWN when the tool is missing or cannot be run. Exit codes
are returned, not judged: smartctl, for one, reports disk state in its exit bits.

A tool that needs root (smartctl, repquota, drbdsetup, crm_mon, ceph …) is a :class:`Tool`:
its ``--<tool> PATH`` option and ``--sudo`` (:func:`add_tool_options`), and runs through
``sudo -n`` when asked to and not root, with sudo's refusal worded as one UNKNOWN line.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence

from checks.core.cli import Parser
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


def run(
    argv: Sequence[str], what: str | None = None, stdin: str | None = None,
    timeout: float | None = None,
) -> Completed:  # fmt: skip
    """Run ``argv`` to completion within the check's remaining time and return its output.

    ``what`` names the wait for a timeout message (default: ``running <tool>``);
    ``timeout`` bounds the wait further, for a check that must still judge after it. The
    tool's exit code is left to the caller; a tool that cannot start at all is UNKNOWN.
    """
    left = remaining()
    if timeout is not None:
        left = timeout if left is None else min(left, timeout)
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
                timeout=left,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            raise CannotCheck(f"{argv[0]} did not finish within {expired.timeout:.0f} s") from None
        except OSError as error:
            raise CannotCheck(f"cannot run {command[0]}: {error.strerror}") from None
    log.debug("%s exited %d; stderr: %s", argv[0], finished.returncode, finished.stderr.strip())
    return Completed(command, finished.returncode, finished.stdout, finished.stderr)


def add_tool_options(parser: Parser, tool: str, sudoers: str, *others: str) -> None:
    """``--sudo`` (run ``tool`` through ``sudo -n`` unless root; ``sudoers`` is the line to
    give in the help) and ``--<tool> PATH`` (which program to run), then ``--<other> PATH``
    for each of the ``others`` the check also runs (crm_mon's cibadmin)."""
    parser.add_argument(
        "--sudo",
        action="store_true",
        help=f"run {tool} through 'sudo -n' unless root; sudoers: {sudoers}",
    )
    for program in (tool, *others):
        parser.add_argument(
            f"--{program}",
            default=program,
            metavar="PATH",
            help=f"the {program} program (default: {program} on PATH or in the sbin directories)",
        )


class Tool:
    """A tool the check runs, maybe through ``sudo -n``: ``executable`` is the check's
    command name, for the hint to its ``--help`` (where the sudoers line is)."""

    def __init__(self, program: str, sudo: bool, executable: str) -> None:
        self.program, self.sudo, self.executable = program, sudo, executable

    def run(self, arguments: Sequence[str], what: str | None = None) -> Completed:
        """Run the tool with ``arguments``; sudo refusing to run it is UNKNOWN."""
        command = [find(self.program), *arguments]
        through_sudo = self.sudo and os.geteuid() != 0
        if through_sudo:
            command = ["sudo", "-n", "--", *command]
        done = run(command, what)
        if through_sudo and done.returncode and not done.stdout.strip():
            name = os.path.basename(self.program)
            refusal = done.stderr.strip().splitlines()[:1] or [f"exit {done.returncode}"]
            raise CannotCheck(
                f"sudo did not run {name}: {refusal[0]} (see {self.executable} --help for the "
                "sudoers line)"
            )
        return done
