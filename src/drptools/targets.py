"""Doing things on a backup target, the same way whether it is a local directory or ssh.

Every operation on a target is an ordinary command (``find``, ``sha256sum``, ``dd``,
``mv``, ``rm``, ``sync``, ``flock``) built as an argument list. On a local target it runs
as is; on a remote one it runs through ssh, joined with :func:`shlex.join` because the
remote login shell parses what ssh sends (so the backup account's shell must be a POSIX
one: sh, dash or bash). One code path serves both kinds, so the tests of local targets
exercise what remote ones run, and the remote side needs only coreutils, findutils and
util-linux, no Python.

A remote target keeps one ssh connection for the whole run (``ControlMaster`` on a socket
in a private directory), which every later command and rsync's own ssh reuse: one
handshake per run instead of one per command. ssh options (port, identity, known_hosts)
come from the target's ssh config file, never from the command line; ``BatchMode`` is
forced so that a cron job never waits for a password prompt.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import subprocess
import time

from drptools import execute
from drptools.errors import LockBusy
from drptools.execute import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    from drptools.config import Target

#: Exit code of ``flock -E`` when the lock is held elsewhere (EX_TEMPFAIL).
LOCK_BUSY = 75
#: Seconds a run waits for a target's lock before giving up (``drp snapshots`` tests it
#: for a moment); ``VIGIE_DRP_LOCK_WAIT`` shortens it in tests.
LOCK_WAIT = 30
CONNECT_TIMEOUT = 30
#: Seconds closing waits for the ssh master (and a lock holder) before SIGKILL.
CLOSE_WAIT = 5


class Place:
    """A target ready for commands; use it as a context manager (opens ssh if remote)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = target.name
        self.root = target.location.path
        self.host = target.location.host
        self._control_dir: str | None = None
        self._master: subprocess.Popen[bytes] | None = None

    @property
    def remote(self) -> bool:
        """True when commands go through ssh."""
        return self.host is not None

    def __str__(self) -> str:
        return f"{self.name} ({self.target.location})"

    # --- ssh plumbing ---------------------------------------------------------------

    def ssh_options(self) -> list[str]:
        """Options of every ssh command to this target (also rsync's ``-e``)."""
        options = ["-F", self.target.ssh_config] if self.target.ssh_config else []
        options += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}"]
        if self._control_dir is not None:
            control = os.path.join(self._control_dir, "master")
            options += ["-o", "ControlMaster=no", "-o", f"ControlPath={control}"]
        return options

    def __enter__(self) -> Place:
        if self.remote:
            self._connect()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> None:
        """Start the master connection and wait for its socket."""
        import tempfile

        # A short path in /tmp: a Unix socket path is limited to 107 bytes.
        self._control_dir = tempfile.mkdtemp(prefix="drp-ssh-", dir="/tmp")
        control = os.path.join(self._control_dir, "master")
        options = ["-F", self.target.ssh_config] if self.target.ssh_config else []
        with tempfile.TemporaryFile() as errors:
            self._master = execute.start(
                ["ssh", *options, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
                 "-o", "ControlMaster=yes", "-o", f"ControlPath={control}",
                 "-o", "ControlPersist=no", "-N", "--", str(self.host)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )  # fmt: skip
            deadline = time.monotonic() + CONNECT_TIMEOUT + 5
            while not os.path.exists(control):
                code = self._master.poll()
                if code is not None or time.monotonic() > deadline:
                    self.close()
                    errors.seek(0)
                    said = errors.read().decode(errors="replace")
                    raise CommandFailed(f"cannot reach target {self} by ssh", code, said)
                time.sleep(0.02)

    def close(self) -> None:
        """End the master connection, if any, in bounded time.

        ``ssh -O exit`` asks the master to leave; one that is still there CLOSE_WAIT
        seconds later gets SIGKILL. SIGTERM alone is not enough: under load a master was
        seen stuck in ``poll`` for ever, and a run that never ends keeps its locks, so
        every later run is refused while check_backup sees only a record "running".
        """
        if self._master is not None:
            if self._master.poll() is None:
                directory = self._control_dir
                if directory is not None and os.path.exists(os.path.join(directory, "master")):
                    with contextlib.suppress(CommandFailed):
                        execute.run(
                            ["ssh", *self.ssh_options(), "-O", "exit", "--", str(self.host)],
                            f"closing the ssh connection to {self}",
                            timeout=CLOSE_WAIT,
                        )
                else:  # still connecting: nothing to ask politely
                    self._master.terminate()
            execute.reap(self._master, CLOSE_WAIT)
            self._master = None
        if self._control_dir is not None:
            import shutil

            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None

    def command(self, argv: Sequence[str], cwd: str | None = None) -> list[str]:
        """The local argument list that runs ``argv`` on the target (in ``cwd``)."""
        if not self.remote:
            return list(argv)
        line = "LC_ALL=C LANG=C " + shlex.join(argv)
        if cwd is not None:
            line = f"cd {shlex.quote(cwd)} && {line}"
        return ["ssh", *self.ssh_options(), "--", str(self.host), line]

    def run(
        self,
        argv: Sequence[str],
        what: str,
        *,
        cwd: str | None = None,
        stdin: bytes | None = None,
        ok: Sequence[int] = (0,),
    ) -> execute.Result:
        """Run ``argv`` on the target to completion (see :func:`execute.run`)."""
        local_cwd = None if self.remote else cwd
        return execute.run(self.command(argv, cwd), what, stdin=stdin, cwd=local_cwd, ok=ok)

    def start(
        self,
        argv: Sequence[str],
        *,
        stdin: int | None = subprocess.PIPE,
        stdout: int | None = subprocess.DEVNULL,
        stderr: int | None = subprocess.PIPE,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` on the target and return the local process (ssh, or the tool)."""
        return execute.start(self.command(argv), stdin=stdin, stdout=stdout, stderr=stderr)

    @functools.cached_property
    def uid(self) -> int:
        """The uid the target's commands run as, asked once per connection (``id -u``).

        An account that is not root cannot set owners, and is held to the modes it writes
        (a copied 0000 file it could not hash, a 0555 directory it could not empty), so
        the snapshot keeps the source's modes in xattrs instead (rsync ``--fake-super``).
        """
        if not self.remote:
            return os.geteuid()
        result = self.run(["id", "-u"], f"asking which account runs commands on {self}")
        try:
            return int(result.stdout)
        except ValueError:
            said = result.stdout.decode(errors="replace").strip()[:80]
            raise CommandFailed(f"`id -u` on {self} printed {said!r}, not a uid") from None

    # --- rsync ----------------------------------------------------------------------

    def rsync_path(self, path: str) -> str:
        """``path`` as an rsync source or destination (``host:path`` when remote)."""
        return f"{self.host}:{path}" if self.remote else path

    def rsync_shell(self) -> list[str]:
        """rsync's ``-e`` option for this target (none for a local one)."""
        if not self.remote:
            return []
        return ["-e", shlex.join(["ssh", *self.ssh_options()])]

    # --- operations -----------------------------------------------------------------

    def listing(self, directory: str, depth: int = 1) -> set[str] | None:
        """Relative names below ``directory`` down to ``depth``; None if it does not exist."""
        result = self.run(
            ["find", directory, "-mindepth", "1", "-maxdepth", str(depth), "-printf", "%P\\0"],
            f"listing {directory} on {self}",
            ok=(0, 1),
        )
        if result.returncode == 1:
            if "No such file or directory" in result.stderr and not result.stdout:
                return None
            raise CommandFailed(f"listing {directory} on {self}", 1, result.stderr)
        return {os.fsdecode(name) for name in result.stdout.split(b"\0") if name}

    def list_files(self, directory: str, printf_format: str) -> bytes:
        """``find DIRECTORY -type f -printf FORMAT``: one record per regular file below it."""
        return self.run(
            ["find", directory, "-type", "f", "-printf", printf_format],
            f"listing the files of {directory} on {self}",
        ).stdout

    def check_sums(self, directory: str, sums: str) -> execute.Result:
        """``sha256sum -c --strict SUMS`` in ``directory``: exit 0 all match, 1 some do not
        (its lines say which), other codes CommandFailed."""
        what = f"checking {directory}/{sums} on {self}"
        return self.run(["sha256sum", "-c", "--strict", sums], what, cwd=directory, ok=(0, 1))

    def hash_files(self, directory: str, paths: Sequence[bytes]) -> bytes:
        """``sha256sum -z`` of ``paths`` (relative to ``directory``): ``HASH  path`` records."""
        return self.run(
            ["xargs", "-0", "-r", "sha256sum", "-z", "--"],
            f"computing checksums of {len(paths)} file(s) in {directory} on {self}",
            cwd=directory,
            stdin=b"\0".join(paths) + b"\0",
        ).stdout

    def read(self, path: str) -> bytes | None:
        """The content of ``path``, or None when it does not exist."""
        result = self.run(["cat", "--", path], f"reading {path} on {self}", ok=(0, 1))
        if result.returncode == 1:
            if "No such file or directory" in result.stderr:
                return None
            raise CommandFailed(f"reading {path} on {self}", 1, result.stderr)
        return result.stdout

    def head(self, path: str, size: int, *, decompress: bool = False) -> bytes:
        """The first ``size`` bytes of ``path`` (of its content, zstd-decompressed, with
        ``decompress``): the tool is stopped once they are read, so a dump's header costs
        the same whatever the dump's size."""
        argv = ["zstd", "-q", "-d", "-c", "--", path] if decompress else ["cat", "--", path]
        process = self.start(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        try:
            assert process.stdout is not None
            data = process.stdout.read(size)
        finally:
            process.kill()
            execute.reap(process)
        return data

    def free_bytes(self, path: str) -> int:
        """Bytes available to drp in the filesystem of ``path`` (``df``)."""
        result = self.run(["df", "--output=avail", "-B1", "--", path], f"df {path} on {self}")
        try:
            return int(result.stdout.split()[-1])
        except (IndexError, ValueError):
            raise CommandFailed(f"df {path} on {self} printed no number") from None

    def used_bytes(self, paths: Sequence[str]) -> int:
        """Bytes the files below ``paths`` take (``du``); 0 for a path not there."""
        there = [path for path in paths if self.listing(path, 0) is not None]
        if not there:
            return 0
        result = self.run(["du", "-s", "-c", "-B1", "--", *there], f"du on {self}")
        try:
            return int(result.stdout.split(b"\n")[-2].split()[0])
        except (IndexError, ValueError):
            raise CommandFailed(f"du on {self} printed no total") from None

    def write(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` and flush it to disk (``dd conv=fsync``)."""
        self.run(
            ["dd", f"of={path}", "bs=1M", "conv=fsync", "status=none"],
            f"writing {path} on {self}",
            stdin=data,
        )

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents."""
        self.run(["mkdir", "-p", "--", path], f"creating {path} on {self}")

    def rename(self, old: str, new: str) -> None:
        """Rename ``old`` to ``new`` atomically; fails if ``new`` is a non-empty directory."""
        self.run(["mv", "-T", "--", old, new], f"renaming {old} to {new} on {self}")

    def remove(self, paths: Sequence[str]) -> None:
        """Remove ``paths`` recursively, directories the account made read-only included.

        A snapshot written by an account that is not root may hold directories without
        its write (or read) permission: copied with the source's 0555 or 0000 before
        modes went to xattrs, or made so by hand. ``rm`` cannot empty those, so they get
        ``u+rwx`` first, one by one as ``find`` meets them (before it descends, so nested
        ones are reached too). Only directories: a file of an expired snapshot may be a
        hard link to one of a kept snapshot, whose mode must not change. ``find`` fails
        on a path that does not exist (``rm -f`` does not mind), so its exit status is
        not the verdict: ``rm`` is, and names what it still could not remove. (The paths
        are absolute, below the target's root: ``find`` cannot take one for an option.)
        """
        if not paths:
            return
        what = f"removing {len(paths)} item(s) on {self}"
        unwritable = ["-type", "d", "!", "-perm", "-u=rwx"]
        self.run(
            ["find", *paths, *unwritable, "-exec", "chmod", "u+rwx", "--", "{}", ";"],
            what,
            ok=(0, 1),
        )
        self.run(["rm", "-rf", "--", *paths], what)

    def show_to_monitoring(self, directories: Sequence[str], files: Sequence[str]) -> None:
        """Let check_backup (the monitoring user) list ``directories`` and read ``files``.

        Only a local target is read by check_backup, and only its layout: the directories
        down to each snapshot or dump set, ``COMPLETE``, ``MANIFEST`` and the locks. Modes
        are set explicitly (0755/0644, or 0750/0640 with ``[status] group``) because drp run
        under ``umask 077`` would otherwise hide them all; the backed-up data keeps the
        source's modes, and dumps stay private to drp.
        """
        if self.remote:
            return
        from drptools.status import settings

        group = settings.gid
        for paths, mode in ((directories, 0o755), (files, 0o644)):
            for path in paths:
                try:
                    if group is not None:
                        os.chown(path, -1, group)
                    os.chmod(path, mode & ~0o007 if group is not None else mode)
                except FileNotFoundError:
                    continue
                except OSError as error:
                    raise CommandFailed(
                        f"giving {path} on {self} to the monitoring: {error}"
                    ) from None

    def sync(self, path: str) -> None:
        """Flush the filesystem holding ``path`` (``sync -f``: data and directory entries)."""
        self.run(["sync", "-f", "--", path], f"flushing {path} to disk on {self}")

    def is_locked(self, path: str) -> bool:
        """True when a run holds the lock ``path`` (tested without waiting)."""
        result = self.run(
            ["flock", "-n", "-E", str(LOCK_BUSY), path, "true"],
            f"testing the lock {path} on {self}",
            ok=(0, 1, LOCK_BUSY),
        )
        return result.returncode == LOCK_BUSY

    @contextlib.contextmanager
    def lock(self, path: str, wait: int | None = None) -> Iterator[None]:
        """Hold the flock(1) lock ``path`` on the target while the block runs.

        A ``flock … cat`` process holds it and prints ``locked`` once it has it; closing
        its stdin (or drp dying, which closes the pipe or the ssh connection) releases it.
        """
        if wait is None:
            wait = int(os.environ.get("VIGIE_DRP_LOCK_WAIT") or LOCK_WAIT)
        self.mkdir(os.path.dirname(path))
        holder = self.start(
            ["flock", "-w", str(wait), "-E", str(LOCK_BUSY), path, "-c",
             "echo locked; exec cat >/dev/null"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert holder.stdout is not None
        assert holder.stdin is not None
        if holder.stdout.readline() != b"locked\n":
            holder.stdin.close()
            said = holder.stderr.read().decode(errors="replace") if holder.stderr else ""
            code = execute.reap(holder)
            if code == LOCK_BUSY:
                raise LockBusy(f"another run holds {path} on {self} (waited {wait} s)")
            raise CommandFailed(f"locking {path} on {self}", code, said)
        try:
            yield
        finally:
            holder.stdin.close()
            if holder.stderr is not None:
                holder.stderr.close()
            execute.reap(holder, CLOSE_WAIT)
