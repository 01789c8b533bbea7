"""What every engine builds on: an artifact, a password file, a secret through a pipe, a load.

An :class:`Artifact` is one file of a dump set and the command that dumps it; a
:class:`Load` is one file of a dump set and the client that imports it (``zstd -dc FILE |
client``, or the client reading the file itself). Both hand the client its credentials the
same way: a MariaDB defaults file through an anonymous pipe, PostgreSQL's ``PGPASSWORD``
in the child's environment only.
"""

from __future__ import annotations

import os
import subprocess

from drptools import execute
from drptools.errors import Failure
from drptools.execute import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import IO

COMPRESSOR = ("zstd", "-q", "-c", "-T0")
DECOMPRESSOR = ("zstd", "-q", "-d", "-c", "--")


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
        return with_defaults_file(self.argv, descriptor)

    def shown(self) -> str:
        """The pipeline as ``ps`` shows it (no secret is ever in it)."""
        text = " ".join(self.command(3 if self.secret else None)).replace("/dev/fd/3", "/dev/fd/N")
        return text + (" | " + " ".join(COMPRESSOR) if self.compress else "")


class Load:
    """One file of a dump set going back in: the client that imports it, its credentials."""

    def __init__(
        self,
        path: str,
        argv: tuple[str, ...],
        *,
        decompress: bool,
        env: Mapping[str, str] | None = None,
        secret: bytes | None = None,
        cause: Callable[[str], str] = execute.last_line,
    ) -> None:
        self.path = path
        #: The client: it reads the file on its stdin through ``zstd -dc`` when
        #: ``decompress``, else it is given the path among these arguments.
        self.argv = argv
        self.decompress = decompress
        self.env = dict(env or {})
        self.secret = secret
        self.cause = cause


def with_defaults_file(argv: tuple[str, ...], descriptor: int | None) -> tuple[str, ...]:
    """``argv`` with ``--defaults-extra-file=/dev/fd/N`` first, as MariaDB requires."""
    if descriptor is None:
        return argv
    return (argv[0], f"--defaults-extra-file=/dev/fd/{descriptor}", *argv[1:])


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


#: One process of a pipeline: itself, its stderr, what it does, how to read stderr.
Step = tuple[subprocess.Popen[bytes], "IO[bytes]", str, "Callable[[str], str]"]


def ended(steps: Sequence[Step]) -> None:
    """Reap every process of a pipeline; CommandFailed for the first that did not exit 0."""
    codes = [execute.reap(process) for process, _, _, _ in steps]
    for code, (_, errors, what, cause) in zip(codes, steps, strict=True):
        if code != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace")
            raise CommandFailed(what, code, said, said=cause(said))


def start_with_secret(
    argv: tuple[str, ...], secret: bytes | None, **options: object
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with its defaults file ``secret`` (if any) through a pipe."""
    descriptor = pipe_secret(secret) if secret is not None else None
    try:
        return execute.start(
            with_defaults_file(argv, descriptor),
            pass_fds=() if descriptor is None else (descriptor,),
            **options,  # type: ignore[arg-type]
        )
    finally:
        if descriptor is not None:
            os.close(descriptor)  # the child holds its own copy, read once


def run_client(
    argv: tuple[str, ...], what: str, *, secret: bytes | None = None,
    env: Mapping[str, str] | None = None, cause: Callable[[str], str] = execute.last_line,
) -> None:  # fmt: skip
    """Run a database client to its end (no input, output ignored); CommandFailed names
    its cause. The credentials go as :func:`load`'s do: a defaults file through a pipe
    (``secret``) or the environment (``env``)."""
    import tempfile

    with tempfile.TemporaryFile() as errors:
        client = start_with_secret(
            argv, secret, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
            extra_env=env,
        )  # fmt: skip
        ended([(client, errors, what, cause)])


def load(
    step: Load, what: str, rewrite: Callable[[Iterable[bytes]], Iterable[bytes]] | None = None
) -> None:
    """Run one :class:`Load`; CommandFailed when the client or zstd did not exit 0.

    ``rewrite`` (with ``decompress``) passes the text through drp on its way to the
    client, line by line: a drill imports a MariaDB dump under another database's name.
    """
    import tempfile

    if not os.path.isfile(step.path):
        raise Failure(f"{what}: {step.path} is not a file")
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as zstd_errors:
        steps: list[Step] = []
        source: int | IO[bytes] | None = subprocess.DEVNULL
        if step.decompress:
            decompressor = execute.start(
                (*DECOMPRESSOR, step.path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=zstd_errors,
            )
            steps.append(
                (decompressor, zstd_errors, f"decompressing {step.path}", execute.last_line)
            )
            source = decompressor.stdout
        client = start_with_secret(
            step.argv,
            step.secret,
            stdin=subprocess.PIPE if rewrite else source,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            extra_env=step.env,
        )
        steps.insert(0, (client, errors, what, step.cause))
        if step.decompress and steps[1][0].stdout is not None:
            if rewrite is not None:
                _pump(rewrite(steps[1][0].stdout), client)
            steps[1][0].stdout.close()
        ended(steps)


def _pump(lines: Iterable[bytes], client: subprocess.Popen[bytes]) -> None:
    """Write ``lines`` to ``client``'s stdin and close it; a client that stopped reading
    stops the pumping (its exit code says why)."""
    import contextlib

    assert client.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        try:
            for line in lines:
                client.stdin.write(line)
        finally:
            client.stdin.close()


def needed(files: Mapping[str, str], suffix: str, what: str) -> str:
    """The path of the file ending in ``suffix``; Failure when the dump set lacks it."""
    try:
        return files[suffix]
    except KeyError:
        raise Failure(f"{what}: the dump set has no {suffix} file") from None
