"""Reading ``drp.toml``: the file's bytes, decoded, cached for check_backup.

``tomllib`` is imported only when the cache misses: check_backup runs every few minutes.
"""

from __future__ import annotations

import contextlib
import os

from drptools.config.model import DEFAULT_PATH, Config, ConfigError
from drptools.config.rules import parse


def load(path: str = DEFAULT_PATH) -> Config:
    """Read, decode and validate the file at ``path``; ConfigError says what is wrong.

    The decoded document is cached as JSON in the state directory, keyed by the file's
    inode, size and mtime: check_backup runs every few minutes, and importing ``tomllib``
    (with ``typing``, ``datetime`` and ``re``) would cost it half an interpreter start.
    Validation always runs on what was read.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(path, ["no such file (give another with --config FILE)"]) from None
    except OSError as error:
        raise ConfigError(path, [f"cannot read it: {error.strerror}"]) from None
    key = [os.path.abspath(path), status.st_ino, status.st_size, status.st_mtime_ns]
    data = _cached(key)
    if data is None:
        data = _decode(path)
        _cache(key, data)
    return parse(data, path)


def _decode(path: str) -> dict[str, object]:
    """The TOML document at ``path``; ConfigError names a bad byte by its offset.

    The bytes are decoded here rather than by tomllib, whose UnicodeDecodeError says
    neither the file nor the line: a Latin-1 "é" in a comment must not stop every
    action with a traceback.
    """
    import tomllib

    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as error:
        raise ConfigError(path, [f"cannot read it: {error.strerror}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            path,
            [
                f"not UTF-8, as TOML must be: byte 0x{raw[error.start]:02x} at offset "
                f"{error.start} (line {line})"
            ],
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None


def _cache_path() -> str:
    from drptools.status import state_dir

    return os.path.join(state_dir(), "config-cache.json")


def _cached(key: list[object]) -> dict[str, object] | None:
    import json

    try:
        with open(_cache_path(), encoding="utf-8") as file:
            cached = json.load(file)
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or cached.get("key") != key:
        return None
    data = cached.get("data")
    return data if isinstance(data, dict) else None


def _cache(key: list[object], data: dict[str, object]) -> None:
    """Store the decoded document for the next reader; silently skipped when impossible."""
    import json

    from checks.core.files import replace_atomically
    from drptools.status import make_state_dir

    path = _cache_path()
    with contextlib.suppress(OSError, TypeError, ValueError):  # read-only state, a TOML date
        text = json.dumps({"key": key, "data": data})
        make_state_dir()  # with its mode: not 0700 because drp ran under umask 077
        # No secret in drp.toml, and check_backup (the monitoring user) reads the cache.
        replace_atomically(path, text, mode=0o644)
