"""What smartctl says, as plain values: its exit status, its device scan, its ``--all`` text.

smartctl reports a disk's state twice: in its text, and in the bits of its exit status
(smartctl(8), RETURN VALUES). The bits survive where the text does not (a truncated run, a
format pySMART does not know), so both are read. The text is read by pySMART (see
:mod:`checks.storage._pysmart`, imported only when there is SMART data to read) and, for
the few lines pySMART leaves out, here: the health line itself (pySMART folds failing
attributes into it), the drive's own temperature limits (NVMe warning/critical composite
temperature, SAS trip temperature), the ATA error count, a disk left asleep by ``-n``, a
device that could not be opened.

Everything here is a pure function of text and numbers, tested on real captures.
"""

from __future__ import annotations

from checks.core.errors import ParseError

#: smartctl(8) RETURN VALUES: what each bit of the exit status says, bit 0 first.
EXIT_BITS = (
    "command line did not parse",
    "device open failed",
    "a SMART or other command to the disk failed",
    "SMART status: disk failing",
    "prefail attributes at or below threshold",
    "attributes at or below threshold in the past",
    "error log has errors",
    "self-test log has errors",
)
COMMAND_LINE, OPEN_FAILED, COMMAND_FAILED, FAILING, PREFAIL_NOW, PAST, ERROR_LOG, SELFTEST_LOG = (
    1 << bit for bit in range(8)
)

#: NVMe SMART/Health log Critical Warning bits, bit 0 first, in smartctl's words.
CRITICAL_WARNING_BITS = (
    "available spare has fallen below threshold",
    "temperature is above or below threshold",
    "NVM subsystem reliability has been degraded",
    "media has been placed in read only mode",
    "volatile memory backup device has failed",
    "persistent memory region has become read-only or unreliable",
)

#: ATA attribute IDs read as vigie's metrics (the raw value counts sectors or errors).
ATA_COUNTERS = {
    5: "reallocated",
    187: "reported_uncorrect",
    197: "pending",
    198: "offline_uncorrectable",
}


def explain_status(status: int) -> str:
    """Every bit of an exit status in words: ``6 (device open failed, a SMART … failed)``."""
    words = [text for bit, text in enumerate(EXIT_BITS) if status >> bit & 1]
    return f"{status} ({', '.join(words)})" if words else str(status)


def critical_warnings(value: int) -> list[str]:
    """The NVMe Critical Warning byte as the conditions it flags."""
    words = [text for bit, text in enumerate(CRITICAL_WARNING_BITS) if value >> bit & 1]
    unknown = value & ~((1 << len(CRITICAL_WARNING_BITS)) - 1)
    if unknown:
        words.append(f"unknown critical warning bits 0x{unknown:02x}")
    return words


class ScanEntry:
    """One device of ``smartctl --scan-open``: its name, its ``-d`` type, why it did not open."""

    __slots__ = ("device", "device_type", "error")

    def __init__(self, device: str, device_type: str, error: str = "") -> None:
        self.device, self.device_type, self.error = device, device_type, error

    def __repr__(self) -> str:
        return f"ScanEntry({self.device!r}, {self.device_type!r}, {self.error!r})"


def parse_scan(text: str) -> list[ScanEntry]:
    """``smartctl --scan-open`` output: ``DEV -d TYPE # INFO, PROTOCOL device`` per line.

    A device smartctl could not open is printed commented out, ``# DEV -d TYPE # INFO,
    PROTOCOL device open failed: REASON``. A failed scan (``# scan_smart_devices: …``)
    raises :class:`ParseError` with smartctl's reason.
    """
    entries = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        failed = stripped.startswith("# ")
        body = stripped[2:] if failed else stripped
        if body.startswith("scan_smart_devices:"):
            raise ParseError(f"smartctl --scan-open failed: {body.partition(':')[2].strip()}")
        fields = body.split("#", 1)[0].split()
        if len(fields) != 3 or fields[1] != "-d" or not fields[0].startswith("/"):
            raise ParseError(f"smartctl --scan-open: cannot read {stripped!r}")
        error = body.partition(" open failed: ")[2].strip() if failed else ""
        if failed and not error:
            raise ParseError(f"smartctl --scan-open: cannot read {stripped!r}")
        entries.append(ScanEntry(fields[0], fields[2], error))
    return entries


class Attribute:
    """One row of the ATA SMART attribute table."""

    __slots__ = ("name", "number", "prefail", "raw", "threshold", "value", "when_failed")

    def __init__(
        self,
        number: int,
        name: str,
        value: int,
        threshold: int | None,
        prefail: bool,
        when_failed: str,
        raw: int | None,
    ) -> None:
        self.number, self.name, self.value, self.threshold = number, name, value, threshold
        self.prefail, self.when_failed, self.raw = prefail, when_failed, raw

    def __repr__(self) -> str:
        return f"Attribute({self.number}, {self.name!r}, raw={self.raw}, {self.when_failed!r})"


class SelfTest:
    """One entry of a self-test log, newest first: the test, its outcome, when, where."""

    __slots__ = ("hours", "lba", "status", "test")

    def __init__(self, test: str, status: str, hours: str, lba: str) -> None:
        self.test, self.status, self.hours, self.lba = test, status, hours, lba

    @property
    def failed(self) -> bool:
        """The test found an error (ATA, SCSI and NVMe status words alike)."""
        status = self.status.lower()
        return any(word in status for word in ("fail", "fatal", "damage", "unknown error"))

    @property
    def passed(self) -> bool:
        """The test completed and found nothing."""
        return self.status.lower() in ("completed without error", "completed")

    @property
    def running(self) -> bool:
        """The test is still running."""
        return "progress" in self.status.lower() or self.status == "Running"

    @property
    def extended(self) -> bool:
        """A full-surface test (ATA/NVMe "Extended", SCSI "long")."""
        test = self.test.lower()
        return "extended" in test or "long" in test

    def __str__(self) -> str:
        where = f" at LBA {self.lba}" if self.lba not in ("", "-", "None") else ""
        return f"{self.test}: {self.status}{where}, power-on hour {self.hours}"


def failed_selftests(tests: list[SelfTest]) -> list[SelfTest]:
    """Failed self-tests that no later passed extended test outdates (smartctl's own rule).

    The log is newest first; a full-surface test that passed after a failure shows that the
    surface reads now, so older failures no longer count.
    """
    failures = []
    for test in tests:
        if test.extended and test.passed:
            break
        if test.failed:
            failures.append(test)
    return failures


class Disk:
    """What one ``smartctl --all`` run says about one disk.

    ``kind`` is ``ata``, ``nvme`` or ``scsi`` when smartctl printed SMART data of that kind,
    ``""`` when it printed none; ``no_smart`` says why a device has no SMART at all (a RAID
    volume, a virtual disk, SMART switched off); ``counters`` maps vigie's metric names
    (``reallocated``, ``media_errors``, ``percentage_used`` …) to the disk's values. Fields
    smartctl did not report stay ``None`` or empty.
    """

    __slots__ = (
        "attributes",
        "counters",
        "critical_warning",
        "device",
        "device_type",
        "health",
        "health_detail",
        "kind",
        "messages",
        "model",
        "no_smart",
        "open_error",
        "selftests",
        "serial",
        "spare_threshold",
        "standby",
        "status",
        "temperature",
        "temperature_critical",
        "temperature_warning",
    )

    def __init__(self, device: str, device_type: str, status: int) -> None:
        self.device, self.device_type, self.status = device, device_type, status
        self.kind = ""
        self.model = self.serial = ""
        self.standby = ""
        self.open_error = ""
        self.messages: list[str] = []
        self.no_smart = ""
        self.health: bool | None = None
        self.health_detail: list[str] = []
        self.temperature: int | None = None
        self.temperature_warning: int | None = None
        self.temperature_critical: int | None = None
        self.counters: dict[str, int] = {}
        self.spare_threshold: int | None = None
        self.critical_warning: int | None = None
        self.attributes: list[Attribute] = []
        self.selftests: list[SelfTest] = []

    @property
    def has_data(self) -> bool:
        """smartctl printed a health verdict or SMART values."""
        return bool(
            self.health is not None
            or self.counters
            or self.attributes
            or self.critical_warning is not None
        )

    @property
    def label(self) -> str:
        """The disk's name in perfdata labels: ``sda``, ``nvme0``, ``bus_0_megaraid_5``."""
        return disk_label(self.device, self.device_type)

    def __repr__(self) -> str:
        return f"Disk({self.device!r}, {self.device_type!r}, status={self.status}, {self.kind!r})"


def disk_label(device: str, device_type: str = "") -> str:
    """A stable, unique perfdata prefix for a disk.

    ``/dev/sda`` is ``sda``; a ``/dev/disk/by-id/…`` link keeps only its own name; a disk
    behind a RAID controller (``-d megaraid,5``, ``cciss,0``, ``sat+megaraid,3``) gets the
    controller type and index appended, since several share one device node.
    """
    name = device.removeprefix("/dev/")
    if name.startswith("disk/by-"):
        name = name.rsplit("/", 1)[-1]
    if "," in device_type:
        name += "_" + device_type.rsplit("+", 1)[-1]
    return "".join(char if char.isalnum() or char in "-." else "_" for char in name)


def read_disk(text: str, status: int, device: str, device_type: str = "") -> Disk:
    """Read one ``smartctl --all`` output and its exit status.

    Raises :class:`ParseError` when the text is not smartctl's, or pySMART cannot read it.
    A disk left asleep, a device that did not open or a refused command line is returned
    with that fact and no SMART values.
    """
    disk = Disk(device, device_type, status)
    lines = [line.strip() for line in text.splitlines()]
    if not any(line.startswith("smartctl ") for line in lines[:4]):
        raise ParseError(f"{device}: smartctl printed no banner; this is not smartctl output")
    disk.messages = _messages(lines)
    for line in lines:
        if line.startswith("Device is in ") and " mode" in line:
            disk.standby = line.removeprefix("Device is in ").partition(" mode")[0]
            return disk
        if line.startswith("Smartctl open device:"):
            disk.open_error = line.rpartition(" failed: ")[2] or line
            return disk
    if status & COMMAND_LINE:
        return disk
    disk.no_smart = _no_smart(lines)
    disk.kind = _kind(lines)
    if not disk.kind:
        return disk
    from checks.storage import _pysmart

    _pysmart.read_into(disk, text)
    disk.model = _model(lines) or disk.model
    _read_health(disk, lines)
    _read_limits_and_counts(disk, lines)
    for attribute in disk.attributes:
        name = ATA_COUNTERS.get(attribute.number)
        if name is not None and attribute.raw is not None:
            disk.counters[name] = attribute.raw
    return disk


def _messages(lines: list[str]) -> list[str]:
    """smartctl's own complaints, in its words: what it could not do, and why.

    Its messages are single-spaced sentences; table rows (attributes, logs) are not.
    """
    keywords = ("fail", "unable", "invalid", "error", "unknown", "please specify")
    return [
        line
        for line in lines
        if any(word in line.lower() for word in keywords)
        and "  " not in line
        and not line.startswith(("SMART overall-health", "Copyright", "smartctl "))
        and "VALID ARGUMENTS ARE" not in line
        and not any(table in line for table in ("Error Log", "Error logging", "Error Count"))
    ][:3]


def _no_smart(lines: list[str]) -> str:
    """Why the device has no SMART, when smartctl says so."""
    for line in (" ".join(line.split()) for line in lines):
        if line.startswith("SMART support is:") and ("Unavailable" in line or "lacks" in line):
            return "the device lacks SMART capability"
        if "does not support SMART" in line:
            return "the device does not support SMART"
        if line.startswith("SMART Disabled") or line == "SMART support is: Disabled":
            return "SMART is disabled on the device (enable it: smartctl -s on)"
    return ""


def _kind(lines: list[str]) -> str:
    """Which SMART data the text holds: ``nvme``, ``scsi``, ``ata``, or ``""`` for none."""
    markers = (
        ("nvme", ("SMART/Health Information (NVMe Log", "NVMe Version:")),
        ("scsi", ("SMART Health Status:", "Transport protocol:", "Elements in grown defect")),
        ("ata", ("ATA Version is:", "Vendor Specific SMART Attributes", "SMART overall-health")),
        ("scsi", ("Vendor:", "Product:")),
    )
    for kind, starts in markers:
        if any(line.startswith(starts) for line in lines):
            return kind
    return ""


def _model(lines: list[str]) -> str:
    """The model as smartctl names it (pySMART takes "Add. Product Id" for it)."""
    fields = dict(line.partition(":")[::2] for line in lines if ":" in line)
    for key in ("Device Model", "Model Number"):
        if key in fields:
            return " ".join(fields[key].split())
    return " ".join(" ".join((fields.get("Vendor", ""), fields.get("Product", ""))).split())


def _read_health(disk: Disk, lines: list[str]) -> None:
    """The overall health line; for NVMe the flagged conditions follow it as ``- …`` lines."""
    for index, line in enumerate(lines):
        key, _, value = line.partition(":")
        verdict = value.strip().rstrip("!")
        if key == "SMART overall-health self-assessment test result":
            if verdict in ("PASSED", "FAILED"):
                disk.health = verdict == "PASSED"
            disk.health_detail = [
                follower[2:] for follower in lines[index + 1 : index + 8] if follower[:2] == "- "
            ]
            return
        if key == "SMART Health Status":
            disk.health = verdict == "OK"
            if not disk.health:
                disk.health_detail = [verdict]
            return


def _read_limits_and_counts(disk: Disk, lines: list[str]) -> None:
    """Temperature limits the drive itself reports, and the ATA error log count."""
    for line in lines:
        key, _, value = (" ".join(line.split())).partition(": ")
        number = _leading_int(value)
        if key == "Warning Comp. Temp. Threshold":
            disk.temperature_warning = number or None
        elif key in ("Critical Comp. Temp. Threshold", "Drive Trip Temperature"):
            disk.temperature_critical = number or None
        elif key == "ATA Error Count" and number is not None:
            disk.counters["errors_logged"] = number
        elif line == "No Errors Logged" and disk.kind == "ata":
            disk.counters.setdefault("errors_logged", 0)


def _leading_int(text: str) -> int | None:
    digits = text.split(" ", 1)[0]
    return int(digits) if digits.isascii() and digits.isdigit() else None
