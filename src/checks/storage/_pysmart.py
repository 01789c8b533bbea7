"""pySMART, loaded lean, reading the ``smartctl --all`` text vigie has already read.

pySMART is the parser of smartctl's text: the ATA attribute table, the NVMe SMART/Health
log, the SCSI logs, the self-test log. It reads that text through a ``Smartctl`` object
that would normally run smartctl itself; :class:`Captured` answers its ``--all`` call with
the output that :mod:`checks.storage.smart` got through :func:`checks.core.external.run`
(one run per disk, under the check's timeout) and runs nothing, the way pySMART's own
tests feed it samples. The calls pySMART makes on its own to refine a SCSI device's name
(``-l sataphy``, ``-l sasphy``, ``-l background``) get an empty answer: they would cost a
smartctl run per disk for nothing vigie judges.

:func:`read_into` copies what pySMART found into a :class:`~checks.storage._smartctl.Disk`
and turns any exception of pySMART on damaged text into a :class:`ParseError`, so nothing
of pySMART's object model leaks into the check.

Importing pySMART costs about 50 ms, more than a local check's whole budget; about half of
it is chardet, which pySMART uses only to guess the encoding of bytes it read itself (never
the case here), and humanfriendly, which it uses only to turn NVMe "Data Units Read ... [15.0
TB]" into bytes. Both are registered as placeholders that import the real module on first
attribute use (PEP 562), so a run pays for them only if pySMART really calls them. The same
goes for the standard modules they and pySMART pull in eagerly and never call here
(:data:`DEFERRED`): measured with ``-X importtime`` and in CPU time of whole runs, an NVMe
disk went from 7.0 to 5.4 times the bare interpreter (humanfriendly's inspect, random,
decimal and datetime were 12 ms of it), a SATA disk from 5.5 to 4.9 times (logging.handlers'
socket, pickle and queue, shutil's bz2 and lzma). What is left of humanfriendly on NVMe is
mostly ``html.parser`` (about 3 ms): a dotted name, which :func:`checks.core.lazy.defer`'s
placeholders do not handle.
"""

from __future__ import annotations

from checks.core.errors import ParseError
from checks.core.lazy import defer
from checks.storage._smartctl import Attribute, Disk, SelfTest

#: pySMART's dependencies that it imports eagerly and calls rarely, and the standard modules
#: they import eagerly and never call on vigie's path: logging.handlers' (socket, pickle,
#: queue: pySMART imports it only to reach ``logging``), shutil's compressors (pySMART
#: wants ``which``), and humanfriendly's (inspect, random, decimal, datetime: NVMe text
#: needs only its ``parse_size``).
DEFERRED = ("chardet", "humanfriendly", "socket", "pickle", "queue", "bz2", "lzma", "inspect",
            "random", "decimal", "datetime")  # fmt: skip


for _name in DEFERRED:
    defer(_name)

from pySMART import Device  # noqa: E402, TID253 - after the placeholders; this helper is imported lazily
from pySMART.smartctl import Smartctl  # noqa: E402, TID253

#: The device interface pySMART is told, by the kind of text: it picks its parser from it
#: and, given one, never runs ``smartctl -d test`` to find it out.
INTERFACES = {"ata": "sat", "nvme": "nvme", "scsi": "scsi"}


class Captured(Smartctl):
    """A ``Smartctl`` that answers pySMART's ``--all`` call with text already read."""

    def __init__(self, lines: list[str], status: int) -> None:
        super().__init__(smartctl_path="smartctl")
        self.lines = lines
        self.status = status

    def generic_call(self, params: list[str], pass_options: bool = False) -> tuple[list[str], int]:
        """The captured ``--all`` output; no answer to any other query."""
        if "--all" in params:
            return list(self.lines), self.status
        return [], 1


def read_into(disk: Disk, text: str) -> None:
    """Fill ``disk`` with what pySMART reads in ``text``, a ``smartctl --all`` output."""
    try:
        device = Device(
            disk.device,
            interface=INTERFACES[disk.kind],
            smartctl=Captured(text.splitlines(), disk.status),
        )
        _copy(device, disk)
    except ParseError:
        raise
    except Exception as error:  # pySMART on damaged text: IndexError, ValueError, ...
        raise ParseError(
            f"{disk.device}: pySMART cannot read smartctl's output "
            f"({type(error).__name__}: {error})"
        ) from None


def _copy(device: Device, disk: Disk) -> None:
    disk.model = device.model or ""
    disk.serial = device.serial or ""
    temperature = device.temperature
    disk.temperature = temperature if temperature else None  # 0: not reported
    disk.selftests = [
        SelfTest(str(test.type), str(test.status), str(test.hours), str(test.LBA or "-"))
        for test in device.tests
    ]
    if disk.kind == "ata":
        disk.attributes = [
            Attribute(
                attribute.num,
                attribute.name,
                int(attribute.value),
                attribute.thresh,
                attribute.type == "Pre-fail",
                attribute.when_failed,
                attribute.raw_int,
            )
            for attribute in device.attributes
            if attribute is not None
        ]
    elif disk.kind == "nvme" and device.if_attributes is not None:
        log = device.if_attributes
        disk.critical_warning = log.criticalWarning
        disk.spare_threshold = log.availableSpareThreshold
        disk.counters.update(
            (name, value)
            for name, value in (
                ("media_errors", log.integrityErrors),
                ("percentage_used", log.percentageUsed),
                ("available_spare", log.availableSpare),
                ("errors_logged", log.errorEntries),
            )
            if value is not None
        )
    elif disk.kind == "scsi" and device.diagnostics is not None:
        # pySMART 1.3 keeps these on the Device, 1.4 on its SCSI interface: same property.
        diagnostics = device.diagnostics
        if diagnostics.Reallocated_Sector_Ct is not None:
            disk.counters["grown_defects"] = int(diagnostics.Reallocated_Sector_Ct)
        if diagnostics.Life_Left is not None:
            disk.counters["percentage_used"] = 100 - int(diagnostics.Life_Left)
