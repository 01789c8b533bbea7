"""check_tomcat: threads, JVM memory and errors of a Tomcat, from the manager's status XML.

Reads ``/manager/status?XML=true`` (port 8080 by default), which the manager webapp serves
to a user with the role ``manager-status`` (basic auth: the login comes from
``--credentials FILE``, never the command line). Judges, for every connector (HTTP, AJP),
the request threads busy as a percentage of ``maxThreads`` (``-w``/``-c``, default 80 and
90: a connector out of threads queues and then refuses requests), and the JVM heap used
(total - free) as a percentage of its maximum (``--warning-memory``/``--critical-memory``,
default 90 and 95). Errors and requests per second of each connector (``errorCount`` and
``requestCount``, lifetime counters) come from the interval since the previous run, or
over ``--sample`` seconds on a first run (see :mod:`checks.core.statefile`); a restart
sets them back and drops the stored reading (the XML has no uptime, so a restart after
which the counters already passed the stored ones makes that one interval's rates too low).
``--warning-errors``/``--critical-errors`` judge the errors per second of every connector.

A rejected login is UNKNOWN with "authentication failed" (the status could not be read:
the page is not down, the credentials file is wrong); a login without the role is UNKNOWN
saying so; an HTML page (``?XML=true`` missing) or other XML is UNKNOWN naming what came.
Layouts of Tomcat 6 (no memory pools) to 10.1 are read; connector names lose the quotes
Tomcat 7 and later put around them. There is no C monitoring-plugin for Tomcat.
"""

from __future__ import annotations

import argparse

import nagiosplugin

from checks.core.cli import Parser, add_thresholds
from checks.core.errors import ParseError
from checks.core.evaluate import Summary, Threshold, show
from checks.core.output import screen
from checks.core.runtime import Bench, Plugin
from checks.core.statefile import add_sample_option
from checks.core.units import count_of
from checks.core.web import add_http_options
from checks.web._status import read_page, state_name, stored_rates

DEFAULT_PORT = 8080
DEFAULT_PATH = "/manager/status?XML=true"


class Connector:
    """One ``<connector>``: its threads and its lifetime request and error counts."""

    __slots__ = ("busy", "errors", "max_threads", "name", "requests")

    def __init__(self, name: str, thread_info: dict[str, str], request_info: dict[str, str]):
        self.name = name
        self.max_threads = _number(thread_info, "maxThreads", name, allow_negative=True)
        self.busy = _number(thread_info, "currentThreadsBusy", name)
        self.requests = _number(request_info, "requestCount", name)
        self.errors = _number(request_info, "errorCount", name)


class TomcatStatus:
    """The JVM's heap (free, total, max bytes) and the connectors, in document order."""

    __slots__ = ("connectors", "free", "max", "total")

    def __init__(self, memory: dict[str, str], connectors: list[Connector]) -> None:
        self.free = _number(memory, "free", "memory")
        self.total = _number(memory, "total", "memory")
        self.max = _number(memory, "max", "memory")
        self.connectors = connectors
        if self.free > self.total:
            raise ParseError(f"JVM memory free {self.free:g} is more than total {self.total:g}")

    @property
    def used(self) -> float:
        """Heap bytes in use."""
        return self.total - self.free

    def counters(self) -> dict[str, float]:
        """The lifetime counters, for rates."""
        counts: dict[str, float] = {}
        for connector in self.connectors:
            counts[f"{connector.name} requests"] = connector.requests
            counts[f"{connector.name} errors"] = connector.errors
        return counts


def _number(
    attributes: dict[str, str], key: str, where: str, allow_negative: bool = False
) -> float:
    """The number in attribute ``key`` of ``where``; -1 (unlimited) only if allowed."""
    text = attributes.get(key)
    if text is None:
        raise ParseError(f"status XML: {screen(where)} has no {key}")
    value = count_of(text, -1 if allow_negative else 0)
    if value is None:
        raise ParseError(f"status XML: {screen(where)} {key} is not a count: {screen(text)[:40]!r}")
    return value


def parse_status(text: str) -> TomcatStatus:
    """The manager's ``status?XML=true`` document; HTML or other XML is refused, saying what."""
    from checks.core.xml import MalformedXML, root_of

    stripped = text.lstrip()[:300].lower()
    if stripped.startswith(("<!doctype html", "<html")):
        raise ParseError("an HTML page, not the manager's status XML (does -u end with ?XML=true?)")
    try:
        root = root_of(text, "the manager")
    except MalformedXML as error:
        shown = screen(text)[:60]
        raise ParseError(f"not the manager's status XML ({error}): {shown!r}") from None
    if root.tag != "status":
        raise ParseError(f"XML whose root is <{screen(root.tag)[:30]}>, not the manager's <status>")
    memories = [memory.attrib for jvm in root.iter("jvm") for memory in jvm.findall("memory")]
    if not memories:
        raise ParseError("status XML without <jvm><memory>")
    connectors = [
        (connector.get("name", "").strip("\"'"),
         {info.tag: info.attrib for info in connector if info.tag in ("threadInfo", "requestInfo")})
        for connector in root.findall("connector")
    ]  # fmt: skip
    if not connectors:
        raise ParseError("status XML without any <connector>")
    return TomcatStatus(
        memories[-1],
        [Connector(name or "connector", info.get("threadInfo", {}), info.get("requestInfo", {}))
         for name, info in connectors],
    )  # fmt: skip


class Tomcat(nagiosplugin.Resource):
    """One reading of the status XML (two on a first run, for the rates)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.status: TomcatStatus | None = None
        self.url = self.interval = ""

    def read(self) -> TomcatStatus:
        """Fetch and parse the status XML."""
        status, self.url = read_page(self.args, "manager status XML", parse_status)
        self.status = status
        return status

    def probe(self) -> list[nagiosplugin.Metric]:
        """Heap, then threads, errors/s and requests/s of each connector."""
        first = self.read()
        interval = stored_rates(
            state_name("tomcat", self.url), first.counters(),
            lambda: self.read().counters(), self.args.sample,
        )  # fmt: skip
        self.interval = interval.how
        status = self.status or first
        metrics = [
            nagiosplugin.Metric("heap_used", status.used, "B", 0, status.max),
        ]
        if status.max > 0:
            metrics.append(
                nagiosplugin.Metric("heap", 100.0 * status.used / status.max, "%", 0, 100)
            )
        for connector in status.connectors:
            name = connector.name
            limit = connector.max_threads if connector.max_threads > 0 else None
            metrics.append(
                nagiosplugin.Metric(f"{name} threads_busy", connector.busy, "", 0, limit,
                                    context="threads_busy")
            )  # fmt: skip
            if limit:
                metrics.append(
                    nagiosplugin.Metric(f"{name} busy", 100.0 * connector.busy / limit, "%",
                                        0, 100, context="busy")
                )  # fmt: skip
            metrics += [
                nagiosplugin.Metric(f"{name} errors", interval.rate(f"{name} errors"), "", 0,
                                    context="errors"),
                nagiosplugin.Metric(f"{name} requests", interval.rate(f"{name} requests"), "",
                                    0, context="requests"),
            ]  # fmt: skip
        return metrics


def describe_per_second(metric: nagiosplugin.Metric) -> str:
    """``http-nio-8080 errors 0.2/s``."""
    return f"{metric.name} {show(metric.value)}/s"


def describe_busy(metric: nagiosplugin.Metric) -> str:
    """``http-nio-8080 threads busy 85%``."""
    return f"{metric.name.removesuffix(' busy')} threads busy {show(metric.value, '%')}"


def describe_heap(metric: nagiosplugin.Metric) -> str:
    """``heap used 93%``."""
    return f"heap used {show(metric.value, '%')}"


class TomcatSummary(Summary):
    """``heap 41% used (53 MiB of 124 MiB), http-nio-8080 1 of 200 threads busy, …``."""

    def ok(self, results: nagiosplugin.Results) -> str:
        """Heap, each connector's threads and rates, and the interval."""
        resource: Tomcat = results[0].resource
        status = resource.status
        assert status is not None
        parts = [f"heap {show(status.used, 'B')} used of {show(status.max, 'B')}"]
        if "heap" in results:
            parts[0] += f" ({show(results['heap'].metric.value, '%')})"
        for connector in status.connectors:
            name = connector.name
            threads = f"{connector.busy:g}"
            if connector.max_threads > 0:
                threads += f" of {connector.max_threads:g}"
            errors = results[f"{name} errors"].metric.value
            requests = results[f"{name} requests"].metric.value
            parts.append(
                f"{screen(name)} {threads} threads busy, {show(requests)} requests/s, "
                f"{show(errors)} errors/s"
            )
        return f"{'; '.join(parts)} {resource.interval}"

    def problem(self, results: nagiosplugin.Results) -> str:
        """The problems, then the interval of the rates."""
        return f"{super().problem(results)} ({results[0].resource.interval})"


def build_parser() -> Parser:
    """check_tomcat's options: check_url's HTTP options, threads, heap and error ranges."""
    parser = Parser(
        "check_tomcat",
        __doc__.split("\n\n")[0],
        examples=(
            "check_tomcat -H app1 --credentials /etc/icinga2/secrets/tomcat.cred",
            "check_tomcat -H app1 -p 8443 -S -w 70 -c 90 --critical-memory 98 --credentials F",
            "check_tomcat -H app1 --warning-errors 0.5 --credentials F   errors/s per connector",
        ),
    )
    add_http_options(parser, default_port=DEFAULT_PORT, default_path=DEFAULT_PATH)
    add_thresholds(parser, "threads busy, %% of each connector's maxThreads", defaults=("80", "90"))
    add_thresholds(parser, "JVM heap used, %% of its maximum", metric="memory",
                   defaults=("90", "95"))  # fmt: skip
    add_thresholds(parser, "errors per second of each connector", metric="errors")
    add_sample_option(parser, " of the request and error counters")
    return parser


def make_check(args: argparse.Namespace) -> nagiosplugin.Check:
    """The Check for parsed ``args``."""
    return nagiosplugin.Check(
        Tomcat(args),
        Threshold("heap", args.warning_memory, args.critical_memory, describe_heap),
        Threshold("heap_used"),
        Threshold("busy", args.warning, args.critical, describe_busy),
        Threshold("threads_busy"),
        Threshold("errors", args.warning_errors, args.critical_errors, describe_per_second),
        Threshold("requests", describe=describe_per_second),
        TomcatSummary(),
    )


PLUGIN = Plugin(
    "tomcat",
    build_parser,
    make_check,
    address=True,
    services=("vigie-tomcat",),
    nagios=("tomcat",),
    bench=(
        Bench("check_tomcat -H 127.0.0.1 -p PORT --credentials F --sample 0.05",
              ("-H", "127.0.0.1", "-p", "{tomcat_port}", "--credentials", "{tomcat_credentials}",
               "--sample", "0.05"), kind="tool"),
    ),
)  # fmt: skip
main = PLUGIN.main
