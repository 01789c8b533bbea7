"""Round-trip and response times, judged and worded in the units they come in.

Network answers on a LAN take microseconds to milliseconds: ``0 s`` or ``0.1 s`` (how
:func:`checks.core.evaluate.show` words any duration) would hide them, so times below a
second are shown in milliseconds with the digits that matter.
"""

from __future__ import annotations

from checks.core.evaluate import Threshold
from checks.core.units import human_number, perf_number

MILLISECONDS = {"s": 1000.0, "ms": 1.0}


def human_latency(value: float, uom: str = "s") -> str:
    """``0.038 ms``, ``4.5 ms``, ``201 ms``, ``1.52 s`` for a time in ``uom`` (s or ms)."""
    milliseconds = value * MILLISECONDS[uom]
    if milliseconds >= 1000:
        return f"{human_number(milliseconds / 1000)} s"
    if milliseconds < 0.001:  # thresholds only: no exponent, as few digits as it takes
        return f"{perf_number(milliseconds)} ms"
    if milliseconds < 1:
        return f"{human_number(milliseconds, 3)} ms"
    return f"{human_number(milliseconds, 1 if milliseconds < 100 else 0)} ms"


class Latency(Threshold):
    """A :class:`Threshold` on a time in s or ms whose hint reads ``> 500 ms``."""

    def shown(self, value: float, uom: str) -> str:
        """The bound in milliseconds below a second."""
        return human_latency(value, uom)
