"""The one place where ``drp`` runs a process: argument lists, logging, failures, cleanup.

Every tool (rsync, ssh, find, sha256sum, flock, mariadb-dump, pg_dump, zstd) starts here
from an argument list, never through a local shell, with the C locale so that its output
parses the same everywhere. The command line is logged at debug level: it never holds a
secret, because credentials travel by file descriptor or environment (see
:mod:`drptools.engines.mariadb`, :mod:`drptools.engines.postgresql`). A failure becomes
:class:`CommandFailed` with one line an operator can act on: what was being done, how the
process ended (exit code or signal name) and the last thing it said on stderr.

Children die with ``drp`` (``PR_SET_PDEATHSIG``): an rsync orphaned by a killed run would
otherwise keep writing into a snapshot directory the next run believes it owns. On
SIGTERM or SIGINT, :func:`stop_children` ends whatever is still running.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess

from checks.core.external import EXTRA_PATH
from drptools.errors import Failure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import IO

log = logging.getLogger("drptools")

PR_SET_PDEATHSIG = 1
_children: set[subprocess.Popen[bytes]] = set()
_prctl: list[object] = []


class CommandFailed(Failure):
    """A tool ended badly; the message is one line saying what, how, and its last words."""

    def __init__(
        self,
        what: str,
        returncode: int | None = None,
        stderr: str = "",
        meaning: str = "",
        said: str | None = None,
    ) -> None:
        self.what = what
        self.returncode = returncode
        self.stderr = stderr
        how = describe_exit(returncode) if returncode is not None else ""
        if how and meaning:
            how += f" ({meaning})"
        if said is None:
            said = last_line(stderr)
        super().__init__(": ".join(part for part in (what, how, said) if part))


def describe_exit(returncode: int) -> str:
    """``exited 23`` or ``killed by SIGKILL`` (Popen reports a signal as its negative)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited {returncode}"


def last_line(text: str) -> str:
    """The last non-empty line of a tool's stderr, the one that usually names the cause."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return " ".join(line.split())
    return ""


def tool(name: str) -> str:
    """The path of ``name``: on PATH, else in the usual sbin/bin directories."""
    import shutil

    if os.sep in name:
        return name
    path = os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_PATH])
    found = shutil.which(name, path=path)
    if found is None:
        raise CommandFailed(f"{name} is not installed (not on PATH nor in {', '.join(EXTRA_PATH)})")
    return found


def _die_with_parent() -> None:
    """In the child before exec: receive SIGKILL when drp goes away."""
    if not _prctl:
        return
    prctl = _prctl[0]
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # type: ignore[operator]


def _load_prctl() -> None:
    if _prctl:
        return
    try:
        import ctypes

        _prctl.append(ctypes.CDLL(None, use_errno=True).prctl)
    except (OSError, AttributeError):  # not Linux: children simply outlive a killed drp
        _prctl.append(None)


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: ours, in the C locale, plus ``extra``."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    env.pop("LANGUAGE", None)
    if extra:
        env.update(extra)
    return env


def shown(argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> str:
    """``argv`` as a shell would read it, after the names of its extra variables, masked.

    ``PGPASSWORD=*** pg_dump …``: the log says a variable was set, never its value.
    """
    names = [f"{name}=***" for name in sorted(extra_env or {})]
    return " ".join([*names, shlex.join(argv)])


def start(
    argv: Sequence[str],
    *,
    stdin: int | IO[bytes] | None = None,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    pass_fds: Iterable[int] = (),
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (its first element looked up with :func:`tool`) and return it."""
    _load_prctl()
    command = [tool(argv[0]), *argv[1:]]
    if log.isEnabledFor(logging.DEBUG):
        log.debug("running: %s%s", shown(command, extra_env), f" (in {cwd})" if cwd else "")
    try:
        process = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=environment(extra_env),
            pass_fds=tuple(pass_fds),
            preexec_fn=_die_with_parent if _prctl[0] else None,  # noqa: PLW1509
        )
    except OSError as error:
        raise CommandFailed(f"cannot run {command[0]}: {error.strerror}") from None
    _children.add(process)
    return process


def reap(process: subprocess.Popen[bytes], timeout: float | None = None) -> int:
    """Wait for ``process`` and forget it; its exit code (negative: the signal).

    With ``timeout``, a process still running after that many seconds gets SIGKILL: a
    child that ignores SIGTERM (an ssh master stuck in ``poll``) must not keep drp, and
    so its lock, for ever.
    """
    try:
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.debug("pid %d did not end within %g s: killing it", process.pid, timeout)
            process.kill()
            return process.wait()
    finally:
        _children.discard(process)


class Result:
    """What a finished command printed, and how it ended."""

    __slots__ = ("returncode", "stderr", "stdout")

    def __init__(self, returncode: int, stdout: bytes, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(
    argv: Sequence[str],
    what: str,
    *,
    stdin: bytes | None = None,
    cwd: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    ok: Iterable[int] = (0,),
    capture: bool = True,
    pass_fds: Iterable[int] = (),
    meanings: Mapping[int, str] | None = None,
    cause: Callable[[str], str] = last_line,
    timeout: float | None = None,
) -> Result:
    """Run ``argv`` to completion; CommandFailed unless its exit code is in ``ok``.

    ``capture=False`` leaves stdout on the terminal (rsync's progress); ``meanings``
    words the tool's exit codes in the error, ``cause`` picks the telling line of its
    stderr (default: the last one). ``timeout``: SIGKILL after that many seconds, and
    CommandFailed saying so (for what must never hang, like closing a connection).
    """
    process = start(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE,
        cwd=cwd,
        extra_env=extra_env,
        pass_fds=pass_fds,
    )
    try:
        out, err = process.communicate(stdin, timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise CommandFailed(f"{what}: no answer within {timeout:g} s") from None
    except BaseException:  # interrupted (SIGTERM): the tool stops with drp
        process.terminate()
        raise
    finally:
        reap(process)
    errors = err.decode(errors="replace")
    if errors.strip():
        log.debug("%s said: %s", os.path.basename(argv[0]), errors.strip())
    if process.returncode not in tuple(ok):
        meaning = (meanings or {}).get(process.returncode, "")
        raise CommandFailed(what, process.returncode, errors, meaning, cause(errors))
    return Result(process.returncode, out or b"", errors)


def stop_children() -> None:
    """Terminate every child still running (on SIGTERM/SIGINT), then reap them."""
    for process in list(_children):
        if process.poll() is None:
            process.terminate()
    for process in list(_children):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _children.discard(process)
