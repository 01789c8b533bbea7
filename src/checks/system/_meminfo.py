"""Parsing ``/proc/meminfo``, which both check_memory and check_swap read."""

from __future__ import annotations

from checks.core.errors import ParseError

KIB = 1024


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` as bytes by field name (``MemTotal: 24684084 kB`` → 25276502016)."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            raise ParseError(f"/proc/meminfo: {line.strip()!r} has no number") from None
        fields[name.strip()] = value * KIB if parts[1:] == ["kB"] else value
    if not fields.get("MemTotal"):
        raise ParseError("/proc/meminfo has no MemTotal")
    return fields
