"""Judging metrics: nagiosplugin Contexts and a Summary with vigie's wording.

Covers nagiosplugin's weak spots once for every check: a metric without a threshold never
alerts (nagiosplugin's empty range is ``0:``, so negative values would), perfdata numbers
never use exponents, and the summary names every problem instead of only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from checks.core.output import STATE_NAMES, perfdata
from checks.core.ranges import Range
from checks.core.units import human_bytes, human_duration, human_number

#: nagiosplugin's states by code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
STATES = (Ok, Warn, Critical, Unknown)


def show(value: float, uom: str = "") -> str:
    """A measured value as people read it: ``1.5 GiB``, ``3 d 4 h``, ``42.1%``, ``0.14``."""
    if uom == "B":
        return human_bytes(value)
    if uom == "s":
        return human_duration(value)
    if uom == "%":
        return f"{human_number(value, 1)}%"
    return human_number(value) + uom


class Perf:
    """Perfdata of one metric, written by :func:`checks.core.output.perfdata`."""

    __slots__ = ("crit", "label", "maximum", "minimum", "uom", "value", "warn")

    def __init__(
        self,
        label: str,
        value: float,
        uom: str = "",
        warn: Range | None = None,
        crit: Range | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> None:
        self.label, self.value, self.uom = label, value, uom
        self.warn, self.crit, self.minimum, self.maximum = warn, crit, minimum, maximum

    def __str__(self) -> str:
        return perfdata(
            self.label, self.value, self.uom, self.warn, self.crit, self.minimum, self.maximum
        )


class Verdict(nagiosplugin.Result):
    """A result worded ``load1 12.3 > 10``: the metric, then why it alerts."""

    def __str__(self) -> str:
        description = self.metric.description if self.metric else ""
        if self.hint and description:
            return f"{description} {self.hint}"
        return str(self.hint or description or "")


class Threshold(nagiosplugin.Context):
    """Judge a metric against an optional warning and an optional critical range.

    ``describe`` words the metric for people (default: name and value with its unit);
    ``show_unit`` is the unit the hint uses for the violated bound when it differs from
    the metric's perfdata unit (e.g. bytes shown as ``GiB``).
    """

    def __init__(
        self,
        name: str,
        warning: Range | None = None,
        critical: Range | None = None,
        describe: Callable[[nagiosplugin.Metric], str] | None = None,
    ) -> None:
        super().__init__(name, result_cls=Verdict)
        self.warning = warning
        self.critical = critical
        self._describe = describe

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> Verdict:
        """CRITICAL if the critical range alerts, else WARNING if the warning one does."""
        uom = metric.uom or ""
        for state, limit in ((Critical, self.critical), (Warn, self.warning)):
            if limit is not None and limit.alerts(metric.value):
                hint = limit.violation(metric.value, lambda v: self.shown(v, uom))
                return Verdict(state, hint, metric)
        return Verdict(Ok, None, metric)

    def shown(self, value: float, uom: str) -> str:
        """A bound as the hint words it; checks measuring in finer units override this."""
        return show(value, uom)

    def performance(self, metric: nagiosplugin.Metric, resource: object) -> Perf:
        """Perfdata with this context's ranges and the metric's min and max."""
        return Perf(
            metric.name,
            metric.value,
            metric.uom or "",
            self.warning,
            self.critical,
            metric.min,
            metric.max,
        )

    def describe(self, metric: nagiosplugin.Metric) -> str:
        """``name value`` unless the check words it itself."""
        if self._describe is not None:
            return self._describe(metric)
        return f"{metric.name} {show(metric.value, metric.uom or '')}"


def thresholds(
    names: Iterable[str],
    warnings: Iterable[Range | None],
    criticals: Iterable[Range | None],
    describe: Callable[[nagiosplugin.Metric], str] | None = None,
) -> list[Threshold]:
    """One :class:`Threshold` per name, pairing the warning and critical lists in order."""
    return [
        Threshold(name, warning, critical, describe)
        for name, warning, critical in zip(names, warnings, criticals, strict=True)
    ]


class Summary(nagiosplugin.Summary):
    """Status line naming every problem, worst first; ``headline`` words the OK case.

    ``long_output`` makes the check list every result on its own line even without
    ``-v`` (checks of several items: disks, mounts, servers).
    """

    def __init__(
        self,
        headline: Callable[[nagiosplugin.Results], str] | None = None,
        long_output: bool = False,
    ) -> None:
        self._headline = headline
        self.long_output = long_output

    def ok(self, results: nagiosplugin.Results) -> str:
        """The headline, or every result's description joined."""
        if self._headline is not None:
            return self._headline(results)
        return ", ".join(str(result) for result in results.results)

    def problem(self, results: nagiosplugin.Results) -> str:
        """Every result that is not OK, worst state first, in measurement order within one."""
        return ", ".join(str(result) for result in results if result.state != Ok)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        """One line per result, in measurement order, with its state."""
        return [f"{STATE_NAMES[result.state.code]}: {result}" for result in results.results]

    def empty(self) -> str:
        """A check that measured nothing cannot say OK."""
        return "nothing was measured"
