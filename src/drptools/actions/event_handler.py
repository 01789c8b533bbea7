"""``drp event-handler``: Icinga's or Nagios' event handler of production's services.

The monitoring core runs it on every state change of the objects it is attached to
(``icinga_conf/eventcommands.conf``, ``icinga_conf/nagios/eventcommands.cfg``) and waits
for it, so it must return at once: it reads the event, looks around (the order on record,
a run going, the last automatic activation, the activation in force), lets
:mod:`drptools.decide` decide, logs the decision with its reason (one JSON line of
``[automation] log``), and leaves everything long to one detached child in its own
session (stdin /dev/null, stdout and stderr in its own log file under the state
directory): the notice (a webhook or an SMTP server may take seconds) and then, when
decided, ``drp activate --yes`` or ``drp prestage``, which write their own journals.

Two handlers may run at once (a host and its URL service fail together): they decide one
after the other under the ``event-handler`` lock, and the child each starts is recorded
(pid and start time) in the status record ``event-handler``, so that the next handler
sees it as a run going even before it takes the runbook lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from drptools import decide, layout, status
from drptools.errors import Failure, LockBusy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from drptools.config import Config

#: The status record of the handler: the child it started last, its last activation.
RECORD = "event-handler"
#: The default decision log, in the state directory.
LOG = "event-handler.jsonl"
#: How long a handler waits for another one to finish deciding.
LOCK_WAIT = 0.5


def _started(pid: int | str) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (None: it does not exist)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def _own_runtime() -> float | None:
    """Seconds since this process started, interpreter start-up included."""
    started = _started("self")
    if started is None:
        return None
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started / os.sysconf("SC_CLK_TCK")


def _child_going(record: dict[str, object]) -> str | None:
    """The handler's last child, described, while it still runs (pid and start both match)."""
    child = record.get("child")
    if not isinstance(child, dict):
        return None
    pid, ticks = child.get("pid"), child.get("start_ticks")
    if not isinstance(pid, int) or _started(pid) != ticks:
        return None
    what, log = child.get("what"), child.get("log")
    return f"drp {what} started by the event handler (pid {pid}, log {log})"


def _runbook_going() -> str | None:
    """The runbook run holding its lock, described; probed with a shared flock that is
    released at once and never rewrites the holder's pid."""
    import fcntl

    from drptools.runbook import LOCK

    path = os.path.join(status.state_dir(), "locks", f"{LOCK}.lock")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"the runbook lock {path} cannot be read ({error.strerror}): taken as held"
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 64, 0).decode(errors="replace").split()
        return f"a drp runbook run holds {path} (pid {holder[0] if holder else 'unknown'})"
    finally:
        os.close(descriptor)
    return None


def situation(
    config: Config, record: dict[str, object], busy: str | None, problems: list[str]
) -> decide.Situation:
    """What the decision depends on besides the event, read from the state directory;
    ``busy``: another handler holds the decision lock. What cannot be read goes to
    ``problems`` and counts as absent: a damaged order is no order."""
    from drptools import authorization
    from drptools.actions.common import activation_in_force

    automation = config.automation
    now = layout.now()
    try:
        order = authorization.current()
    except Failure as failure:
        problems.append(str(failure))
        order = None
    active = activation_in_force()
    last = record.get("last_activation")
    return decide.Situation(
        watch=automation.watch,
        activate=automation.activate,
        prestage=automation.prestage,
        quiet_period=automation.quiet_period,
        now=now,
        authorized=order.describe() if order is not None and order.valid_at(now) else None,
        running=busy or _child_going(record) or _runbook_going(),
        drp_active=f"activation {active[0]}" if active is not None else None,
        last_activation=float(last) if isinstance(last, int | float) else None,
    )


def _log_path(config: Config) -> str:
    return config.automation.log or os.path.join(status.state_dir(), LOG)


def _drp_command(
    config: Config, decision: decide.Decision, event: decide.Event, by_policy: bool
) -> list[str]:
    """The ``drp`` run the decision starts, with this very interpreter and drp;
    ``by_policy``: an activation on the policy's word, no order being on record."""
    import shutil

    script = sys.argv[0] if os.path.basename(sys.argv[0]) == "drp" else shutil.which("drp")
    if not script:
        raise Failure("cannot find the drp command to start (not in PATH)")
    command = [sys.executable, os.path.abspath(script), "-c", os.path.abspath(config.source)]
    if decision.start == decide.PRESTAGE:
        return [*command, "prestage"]
    command += ["activate", "--yes"]
    if by_policy:
        # The history of orders says on whose word the DNS moved: here, the policy's.
        command += ["--authorized-by", '[automation] activate = "always"', "--reference",
                    f"{event.name} HARD {event.state} at {layout.stamp(layout.now())}"]  # fmt: skip
    return command


def _detach(
    command: list[str] | None, output: str, notice: tuple[str, list[str]] | None,
    config: Config, log: str, keep_closed: int,
) -> int:  # fmt: skip
    """Fork the child that sends ``notice`` and then becomes ``command``; its pid.

    The child leaves the monitoring core's session and pipes at once (Icinga waits for
    the handler's stdout to close and kills its process group on timeout), and drops the
    handler's lock (``keep_closed``, -1: none held) so that the next handler need not
    wait for a slow notice.
    """
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        if keep_closed >= 0:
            os.close(keep_closed)
        quiet = os.open(os.devnull, os.O_RDONLY)
        written = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.dup2(quiet, 0)
        os.dup2(written, 1)
        os.dup2(written, 2)
        if notice is not None:
            from drptools import notify

            failed = notify.notice(config.notification, *notice)
            if failed:
                status.append(log, {"time": layout.now(), "notice": notice[0], "failed": failed})
        if command is not None:
            os.execv(command[0], command)  # noqa: S606 - an argument list, no shell
        code = 0
    finally:
        os._exit(code)


@contextlib.contextmanager
def _deciding() -> Iterator[status.LocalLock | str]:
    """Hold the ``event-handler`` lock, waiting a little for another handler deciding;
    when it does not let go in time, why (a decision then starts nothing)."""
    deadline = time.monotonic() + LOCK_WAIT
    lock = status.LocalLock(RECORD)
    while True:
        try:
            lock.__enter__()
            break
        except LockBusy as busy:
            if time.monotonic() > deadline:
                yield f"another event handler is still deciding ({busy})"
                return
            time.sleep(0.02)
    try:
        yield lock
    finally:
        lock.__exit__()


def main(config: Config, args: argparse.Namespace) -> int:
    """``drp event-handler --state S --state-type T --attempt N --host H [--service SVC]``."""
    event = decide.read_event(args.state, args.state_type, args.attempt, args.host, args.service)
    log = _log_path(config)
    problems: list[str] = []
    with _deciding() as lock:
        busy = lock if isinstance(lock, str) else None
        try:
            record = status.read(RECORD) or {}
        except status.Unreadable as failure:
            problems.append(str(failure))
            record = {}
        found = situation(config, record, busy, problems)
        decision = decide.decide(event, found)
        entry: dict[str, object] = {"time": layout.now()}
        if problems:
            entry["problems"] = problems
        if isinstance(event, decide.Event):
            entry |= event.fields()
        else:
            entry |= {"arguments": [args.state, args.state_type, args.attempt, args.host,
                                    args.service]}  # fmt: skip
        entry |= decision.fields()
        if decision.notify or decision.start:
            assert isinstance(event, decide.Event)
            by_policy = found.authorized is None
            held = -1 if isinstance(lock, str) else lock.descriptor
            entry |= _hand_over(config, decision, event, by_policy, record, log, held)
        entry["handler_seconds"] = _own_runtime()
        status.append(log, entry)
    print(f"drp event-handler: {decision.verdict}: {decision.reason}")
    return 2 if decision.verdict == decide.UNREADABLE else 0


def _hand_over(
    config: Config, decision: decide.Decision, event: decide.Event, by_policy: bool,
    record: dict[str, object], log: str, lock: int,
) -> dict[str, object]:  # fmt: skip
    """Start the detached child of ``decision``; what the decision log says of it."""
    directory = os.path.join(status.make_state_dir(), RECORD)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    now = layout.now()
    what = decision.start or "notice"
    output = os.path.join(directory, f"{what}-{layout.stamp(now)}-{os.getpid()}.log")
    started: dict[str, object] = {"child_log": output}
    command = None
    lines = [decision.reason]
    if decision.start:
        try:
            command = _drp_command(config, decision, event, by_policy)
        except Failure as failure:
            lines.append(f"NOT STARTED: {failure}")
            started["error"] = str(failure)
    if command is not None:
        lines.append(f"started: drp {decision.start} (its output: {output}; drp runs)")
    lines.append(f"decision log: {log}")
    subject = f"DRP event handler: {event.name} HARD {event.state}: {decision.verdict}"
    pid = _detach(command, output, (subject, lines) if decision.notify else None, config,
                  log, lock)  # fmt: skip
    started["child"] = pid
    if command is not None:
        record["child"] = {"pid": pid, "start_ticks": _started(pid), "what": decision.start,
                           "log": output, "started": now}  # fmt: skip
        if decision.start == decide.ACTIVATE:
            record["last_activation"] = now
        status.write(RECORD, record)
        started["command"] = command[1:]
    return started
