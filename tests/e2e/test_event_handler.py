"""drp event-handler wired as icinga_conf/ ships it: validated by ``icinga2 daemon -C`` and
``nagios4 -v``, then run by a real Icinga 2 daemon whose production URL service goes
CRITICAL (max_check_attempts = 3, checks every second).

The site is local (production's files, targets A and B, the DRP root in a temporary
directory), backed up to A; notices go to a loopback SMTP sink. The daemon's own
environment has no VIGIE_STATE_DIR: the event command's variables bring drp to the
test's configuration and state.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from drptools import journal
from tests.conftest import REPO, executable
from tests.e2e.icinga_install import defines, icinga2
from tests.e2e.nagios_install import configuration, verify
from tests.helpers.drp import (
    drp,
    local_site,
    mail_sink,
    notify_by_mail,
    run_succeeded,
    toml,
    wait_for,
)

pytestmark = pytest.mark.integration

CONF = REPO / "icinga_conf"
SERVICE = "web-1!shop-url"


def _directories(root: Path) -> Path:
    """The data, cache, log, spool and run directories that defines() points at."""
    for name in ("data", "cache", "log", "spool", "run"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return root


def test_icinga_validates_the_event_commands(tmp_path: Path) -> None:
    main = _directories(tmp_path) / "icinga2.conf"
    main.write_text(f"""
include <itl>
include "{CONF / "eventcommands.conf"}"
object Host "web-1" {{
  check_command = "dummy"
  enable_event_handler = true
  event_command = "vigie-drp-host"
}}
object Service "shop-url" {{
  host_name = "web-1"
  check_command = "dummy"
  enable_event_handler = true
  event_command = "vigie-drp"
  vars.vigie_drp_config = "/etc/vigie/drp.toml"
}}
""")
    checked = subprocess.run([icinga2(), "daemon", "-C", "-c", str(main), *defines(tmp_path)],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "2 EventCommands" in checked.stdout


def test_the_readme_example_attaches_the_event_command(tmp_path: Path) -> None:
    """The README's apply rule, without its command_endpoint (no agent here)."""
    readme = (REPO / "README.md").read_text()
    start = readme.index('apply Service "shop-url" {')
    rule = readme[start : readme.index("\n}\n", start) + 3]
    rule = "\n".join(line for line in rule.splitlines() if "command_endpoint" not in line)
    main = _directories(tmp_path) / "icinga2.conf"
    main.write_text(f"""
const PluginDir = "/usr/lib/nagios/plugins"
include <itl>
include <plugins>
include "{CONF / "eventcommands.conf"}"
object Host "web-1.rennes-1.example.net" {{ check_command = "dummy" }}
{rule}
""")
    checked = subprocess.run([icinga2(), "daemon", "-C", "-c", str(main), *defines(tmp_path)],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "1 Service." in checked.stdout


def test_nagios_validates_the_event_commands(tmp_path: Path) -> None:
    production = tmp_path / "production.cfg"
    production.write_text(
        "define service {\n    use generic-service\n    host_name web1\n"
        "    service_description shop-url\n    check_command vigie-uptime\n"
        "    event_handler_enabled 1\n    event_handler vigie-drp-handler\n}\n"
    )
    nagios = CONF / "nagios"
    files = [nagios / name for name in ("commands.cfg", "templates.cfg", "services.cfg",
                                        "eventcommands.cfg")] + [production]  # fmt: skip
    checked = verify(configuration(tmp_path, files))
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "Total Errors:   0" in checked.stdout


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Path, list[tuple[str, list[str], str]]]]:
    """A watched site backed up to A; a mail sink for its notices; its state directory."""
    root, config = local_site(tmp_path / "site", directories=2)
    (root / "drp").mkdir()
    config.write_text(config.read_text() + toml({
        "drp": {"location": str(root / "drp"), "datacenter": "dc-3"},
        "automation": {"watch": [SERVICE], "activate": "authorized"},
    }))  # fmt: skip
    state = tmp_path / "state"
    with mail_sink() as (port, mails):
        notify_by_mail(config, port)
        backed_up = drp(config, "backup", "files", "--target", "A", VIGIE_STATE_DIR=str(state))
        assert backed_up.returncode == 0, backed_up.stderr
        yield config, state, mails


def _decisions(log: Path, watched: str = SERVICE) -> list[dict[str, object]]:
    """The decisions on ``watched`` (the URL service by default) so far."""
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [line for line in lines if "decision" in line and line.get("object") == watched]


def _notice(mails: list[tuple[str, list[str], str]], verdict: str) -> str | None:
    """The text of the mailed notice of ``verdict`` (None: not received yet)."""
    for _, _, text in mails:
        message = email.message_from_string(text, policy=email.policy.default)
        if f": {verdict}" in str(message["Subject"]):
            return message.get_content()  # type: ignore[no-any-return]
    return None


def _through_hard(log: Path, start: int = 0) -> list[dict[str, object]] | None:
    """The decisions up to the first HARD CRITICAL one from ``start`` (None: not yet)."""
    found = _decisions(log)
    for index, decision in enumerate(found[start:], start):
        if decision["state_type"] == "HARD" and decision["state"] == "CRITICAL":
            return found[: index + 1]
    return None


def test_icinga_runs_the_event_handler_on_the_hard_critical_only(
    tmp_path: Path, site: tuple[Path, Path, list[tuple[str, list[str], str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config, state, mails = site
    monkeypatch.setenv("VIGIE_STATE_DIR", str(state))
    icinga = _directories(tmp_path / "icinga")
    exit_code = tmp_path / "shop-url.exit"
    exit_code.write_text("2\n")
    check = tmp_path / "check_shop_url"
    check.write_text(f'#!/bin/sh\nread code < {exit_code}\necho "URL state $code"\nexit $code\n')
    check.chmod(0o755)
    notices = icinga / "log" / "notice.log"
    main = icinga / "icinga2.conf"
    main.write_text(f"""
include <itl>
include "{CONF / "eventcommands.conf"}"
object CheckerComponent "checker" {{ }}
object FileLogger "notice" {{ path = "{notices}"; severity = "notice" }}
object CheckCommand "shop-url" {{ command = [ "{check}" ] }}
object Host "web-1" {{ check_command = "dummy"; enable_active_checks = false }}
object Host "web-2" {{
  check_command = "shop-url"
  max_check_attempts = 2
  check_interval = 1s
  retry_interval = 1s
  enable_event_handler = true
  event_command = "vigie-drp-host"
  vars.vigie_drp_path = "{executable("drp")}"
  vars.vigie_drp_config = "{config}"
  vars.vigie_drp_state_dir = "{state}"
}}
object Service "shop-url" {{
  host_name = "web-1"
  check_command = "shop-url"
  max_check_attempts = 3
  check_interval = 1s
  retry_interval = 1s
  enable_event_handler = true
  event_command = "vigie-drp"
  vars.vigie_drp_path = "{executable("drp")}"
  vars.vigie_drp_config = "{config}"
  vars.vigie_drp_state_dir = "{state}"
}}
""")
    environment = {key: value for key, value in os.environ.items() if key != "VIGIE_STATE_DIR"}
    daemon = subprocess.Popen(
        [icinga2(), "daemon", "-c", str(main), *defines(icinga)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )  # fmt: skip
    log = state / "drp" / "event-handler.jsonl"
    try:
        # SOFT attempts, then HARD: no order on record, a notice only.
        first = wait_for(lambda: _through_hard(log), 60, "a HARD decision")
        assert [d["decision"] for d in first] == ["soft"] * (len(first) - 1) + [
            "needs-authorization"]  # fmt: skip
        assert len(first) > 1
        assert all("child" not in d for d in first[:-1])
        assert "command" not in first[-1]
        mail = wait_for(lambda: _notice(mails, "needs-authorization"), 20, "the notice")
        assert "drp authorize --by NAME --reference TICKET" in mail
        assert not [run for run in journal.all_runs() if run.startswith("activate")]

        # The customer's order; production comes back, then fails again.
        ordered = drp(config, "authorize", "--by", "Jane Doe", "--reference", "C-1")
        assert ordered.returncode == 0, ordered.stderr
        exit_code.write_text("0\n")
        wait_for(lambda: len(_decisions(log)) > len(first), 30, "the recovery")
        exit_code.write_text("2\n")
        every = wait_for(lambda: _through_hard(log, len(first) + 1), 60, "the second HARD")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    second = every[len(first) :]
    assert [d["decision"] for d in second] == ["recovery"] + ["soft"] * (len(second) - 2) + [
        "activating"]  # fmt: skip
    assert [d["attempt"] for d in second[1:]] == [*range(1, len(second) - 1), 1]
    activating = second[-1]
    assert activating["start"] == "activate"
    assert "by Jane Doe (reference C-1)" in str(activating["reason"])
    # Each handler returned at once, the activation being left to its detached child.
    for decision in every:
        assert isinstance(decision["handler_seconds"], float)
        assert decision["handler_seconds"] < 1, decision
    (run_id,) = wait_for(
        lambda: [run for run in journal.all_runs() if run.startswith("activate")], 30,
        "the activation's journal",
    )  # fmt: skip
    wait_for(lambda: run_succeeded(run_id), 60, "the activation")
    records = journal.read(run_id)
    assert records[0]["pid"] == activating["child"]
    steps = [r["step"] for r in records if r["event"] == "end"]
    assert steps == ["verify-backup:www", "copy-files:www", "verify-files:www"]
    child_log = Path(str(activating["child_log"])).read_text()
    assert f"drp activate: run {run_id}" in child_log
    # The host's event command passed its own macros: a HARD DOWN, of an unwatched host.
    host = _decisions(log, "web-2")
    assert ("DOWN", "HARD", "unwatched") in [
        (d["state"], d["state_type"], d["decision"]) for d in host]  # fmt: skip
    assert "Executing event handler 'vigie-drp-host' for checkable 'web-2'" in notices.read_text()
    assert "by Jane Doe (reference C-1)" in wait_for(lambda: _notice(mails, "activating"), 20,
                                                     "the notice")  # fmt: skip
