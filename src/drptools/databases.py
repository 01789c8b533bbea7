"""Database dumps: which tool makes each file of a dump set, and streaming it to targets.

Every engine module (:mod:`drptools.mariadb`, :mod:`drptools.postgresql`) exposes the same
function, ``artifacts(database)``: the files of one dump set, each with its command, its
credentials and whether it needs compressing. :func:`stream` runs one of them as a
pipeline, ``dump | zstd``, read by drp in 1 MiB chunks that are hashed (SHA-256) and
written to every target at once (``dd conv=fsync`` on the target, local or over ssh): the
dump is never stored twice, never passes through a temporary file, and its checksum is
that of the bytes the targets received.

Compression is zstd (``-T0``: every core), not gzip: at its default level it compresses
SQL better than ``gzip -6`` at several times the speed, so the compressor never slows the
dump down (the budget is 1.05 × the bare dump), and ``zstd`` is in Debian and RHEL.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess

from drptools import execute
from drptools.errors import Failure
from drptools.execute import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO

    from drptools.config import Database
    from drptools.targets import Place

ENGINES = {
    "mariadb": "drptools.mariadb",
    "mysql": "drptools.mariadb",
    "postgresql": "drptools.postgresql",
}
COMPRESSOR = ("zstd", "-q", "-c", "-T0")
CHUNK = 1 << 20


class Artifact:
    """One file of a dump set: how to produce it, and how to hand it its credentials."""

    def __init__(
        self,
        suffix: str,
        argv: tuple[str, ...],
        *,
        compress: bool,
        env: dict[str, str] | None = None,
        secret: bytes | None = None,
        cause: Callable[[str], str] = execute.last_line,
    ) -> None:
        self.suffix = suffix
        self.argv = argv
        self.compress = compress
        self.env = env or {}
        #: Content of a defaults file handed over through a pipe (MariaDB), or None.
        self.secret = secret
        #: Picks the line of the tool's stderr that says why it failed.
        self.cause = cause

    def command(self, descriptor: int | None) -> tuple[str, ...]:
        """The argument list; the pipe's descriptor goes first, as MariaDB requires."""
        if descriptor is None:
            return self.argv
        return (self.argv[0], f"--defaults-extra-file=/dev/fd/{descriptor}", *self.argv[1:])

    def shown(self) -> str:
        """The pipeline as ``ps`` shows it (no secret is ever in it)."""
        text = " ".join(self.command(3 if self.secret else None)).replace("/dev/fd/3", "/dev/fd/N")
        return text + (" | " + " ".join(COMPRESSOR) if self.compress else "")


def artifacts(database: Database) -> list[Artifact]:
    """The files of one dump set of ``database``, in the order they are made."""
    module = importlib.import_module(ENGINES[database.engine])
    made: list[Artifact] = module.artifacts(database)
    return made


def read_password(path: str) -> str:
    """The first line of a password file, refused if group or others can access it."""
    from drptools.config import secret_problem

    complaint = secret_problem(path, "password_file")
    if complaint:
        raise Failure(complaint)
    try:
        with open(path, encoding="utf-8") as file:
            password = file.readline().rstrip("\n")
    except OSError as error:
        raise Failure(f"password_file: cannot read {path}: {error.strerror}") from None
    if not password:
        raise Failure(f"password_file: {path} is empty")
    return password


def pipe_secret(secret: bytes) -> int:
    """The inheritable read end of a pipe holding ``secret``, its write end closed."""
    read, write = os.pipe()
    try:
        os.write(write, secret)  # far below the pipe's 64 KiB: never blocks
    finally:
        os.close(write)
    os.set_inheritable(read, True)
    return read


class Sink:
    """One target's copy of a file being written: ``dd`` on the target, fed by drp."""

    def __init__(self, place: Place, path: str) -> None:
        import tempfile

        self.place = place
        self.path = path
        self.error: str | None = None
        # Open as long as the dd whose complaints it collects: closed by finish().
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = execute.start(
            place.command(["dd", f"of={path}", "bs=1M", "conv=fsync", "status=none"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
        )

    def write(self, chunk: bytes) -> None:
        """Pass ``chunk`` on; a target that stopped reading is marked failed, not fatal."""
        if self.error is not None:
            return
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(chunk)
        except OSError as error:
            self.error = f"writing {self.path} on {self.place}: {error.strerror or error}"

    def finish(self) -> None:
        """Close the stream and wait for ``dd``; record how it ended."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError as error:
            self.error = self.error or f"writing {self.path} on {self.place}: {error.strerror}"
        code = execute.reap(self.process)
        if code != 0 and self.error is None:
            self._errors.seek(0)
            said = self._errors.read().decode(errors="replace")
            self.error = str(CommandFailed(f"writing {self.path} on {self.place}", code, said))
        self._errors.close()


#: One process of a dump pipeline: itself, its stderr, what it does, how to read stderr.
Step = tuple[subprocess.Popen[bytes], "IO[bytes]", str, "Callable[[str], str]"]


def _ended(steps: Sequence[Step]) -> None:
    """Reap every process of a pipeline; CommandFailed for the first that did not exit 0."""
    codes = [execute.reap(process) for process, _, _, _ in steps]
    for code, (_, errors, what, cause) in zip(codes, steps, strict=True):
        if code != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace")
            raise CommandFailed(what, code, said, said=cause(said))


def _start(
    artifact: Artifact, dump_errors: IO[bytes], zstd_errors: IO[bytes]
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes] | None]:
    """The dump process, its credentials pipe handed over, and the compressor after it."""
    descriptor = pipe_secret(artifact.secret) if artifact.secret is not None else None
    try:
        dump = execute.start(
            artifact.command(descriptor),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=dump_errors,
            extra_env=artifact.env,
            pass_fds=() if descriptor is None else (descriptor,),
        )
    finally:
        if descriptor is not None:
            os.close(descriptor)  # the dump holds its own copy, read once
    if not artifact.compress:
        return dump, None
    compressor = execute.start(
        COMPRESSOR, stdin=dump.stdout, stdout=subprocess.PIPE, stderr=zstd_errors
    )
    assert dump.stdout is not None
    dump.stdout.close()
    return dump, compressor


def stream(artifact: Artifact, sinks: list[Sink], what: str) -> tuple[str, int]:
    """Run ``artifact``'s pipeline into every sink; its sha256 and size.

    A dump that exits non-zero or is killed raises CommandFailed (the sinks are finished
    first, so their partial files can be removed). Sinks that fail only mark themselves.
    """
    import tempfile

    with tempfile.TemporaryFile() as dump_errors, tempfile.TemporaryFile() as zstd_errors:
        dump, compressor = _start(artifact, dump_errors, zstd_errors)
        source = (compressor or dump).stdout
        assert source is not None
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                for sink in sinks:
                    sink.write(chunk)
                if all(sink.error for sink in sinks):
                    dump.terminate()  # nobody receives it any more
                    break
        finally:
            source.close()
            for sink in sinks:
                sink.finish()
            steps: list[Step] = [(dump, dump_errors, what, artifact.cause)]
            if compressor is not None:
                steps.append(
                    (compressor, zstd_errors, f"compressing the dump of {what}", execute.last_line)
                )
            _ended(steps)
    return digest.hexdigest(), size
