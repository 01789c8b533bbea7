"""Streaming a dump set to its targets: ``dump | zstd`` read by drp, hashed, written to all.

Each :class:`~drptools.engines.common.Artifact` runs as a pipeline, ``dump | zstd``, read
by drp in 1 MiB chunks that are hashed (SHA-256) and written to every target at once
(``dd conv=fsync`` on the target, local or over ssh): the dump is never stored twice,
never passes through a temporary file, and its checksum is that of the bytes the targets
received.

Compression is zstd (``-T0``: every core), not gzip: at its default level it compresses
SQL better than ``gzip -6`` at several times the speed, so the compressor never slows the
dump down (the budget is 1.05 × the bare dump), and ``zstd`` is in Debian and RHEL.
"""

from __future__ import annotations

import hashlib
import subprocess

from drptools import execute
from drptools.engines.common import COMPRESSOR, Artifact, Step, ended, start_with_secret
from drptools.execute import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from drptools.targets import Place

CHUNK = 1 << 20


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


def _start(
    artifact: Artifact, dump_errors: IO[bytes], zstd_errors: IO[bytes]
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes] | None]:
    """The dump process, its credentials pipe handed over, and the compressor after it."""
    dump = start_with_secret(
        artifact.argv,
        artifact.secret,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=dump_errors,
        extra_env=artifact.env,
    )
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
            ended(steps)
    return digest.hexdigest(), size
