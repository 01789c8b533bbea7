"""drp event-handler as a process, on a local site: what it starts, detached, and what it
logs; and the validation of ``[automation]``."""

from __future__ import annotations

import copy
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from drptools import journal
from drptools.config import ConfigError, parse
from tests.helpers.drp import (
    GOOD,
    drp,
    held_lock,
    local_site,
    run_succeeded,
    start_drp,
    toml,
    wait_for,
)

pytestmark = pytest.mark.integration

HARD_CRITICAL = ("--state", "CRITICAL", "--state-type", "HARD", "--attempt", "3")
URL = ("--host", "web-1", "--service", "shop-url")


def automation_problems(table: dict[str, object], with_drp: bool = True) -> list[str]:
    data = copy.deepcopy(GOOD)
    if with_drp:
        data["drp"] = {"location": "/srv/drp", "datacenter": "lyon-3"}
    data["automation"] = table
    with pytest.raises(ConfigError) as raised:
        parse(data)
    return raised.value.problems


@pytest.mark.parametrize(
    ("table", "message"),
    [({"watch": ["web-1!"]}, "automation.watch[0]: 'web-1!' is not a monitored object "
      "(expected \"host!service\" or \"host\""),
     ({"watch": ["a!b!c"]}, "automation.watch[0]: 'a!b!c' is not a monitored object"),
     ({"watch": [" web-1"]}, "automation.watch[0]: ' web-1' is not a monitored object"),
     ({"watch": "web-1"}, "automation.watch: expected a list of strings, found a string 'web-1'"),
     ({"activate": "yes"}, "automation.activate: 'yes' is not one of never, authorized, always"),
     ({"quiet_period_hours": 0}, "automation.quiet_period_hours: 0 is out of range (expected "
      "1 to 720)"),
     ({"prestage": "true"}, "automation.prestage: expected true or false, found a string 'true'"),
     ({"log": "decisions.jsonl"}, "automation.log: 'decisions.jsonl' is not an absolute path"),
     ({"quiet_period": "24h"}, "automation.quiet_period: unknown key (known here: watch, "
      "prestage, activate, quiet_period_hours, log)")],
)  # fmt: skip
def test_each_bad_automation_key_gets_an_exact_message(table, message):
    found = automation_problems(table)
    assert any(problem.startswith(message) for problem in found), found


def test_automation_without_a_drp_server_can_only_notify():
    found = automation_problems({"watch": ["web-1"], "prestage": True}, with_drp=False)
    assert found == ["automation.prestage: needs a [drp] section (where a pre-staging or an "
                     'activation goes); add one, or set prestage = false and activate = "never" '
                     "for notices only"]  # fmt: skip
    data = copy.deepcopy(GOOD)
    data["automation"] = {"watch": ["web-1"], "activate": "never"}
    assert parse(data).automation.watch == ("web-1",)


def site_with(tmp_path: Path, **automation: object) -> Path:
    """A local site backed up to A, with a DRP root and ``[automation]``."""
    root, config = local_site(tmp_path)
    (root / "drp").mkdir()
    config.write_text(config.read_text() + toml({
        "drp": {"location": str(root / "drp"), "datacenter": "dc-3"},
        "automation": {"watch": ["web-1!shop-url", "web-1"], **automation},
    }))  # fmt: skip
    assert drp(config, "backup", "files", "--target", "A").returncode == 0
    return config


def decisions(state: Path) -> list[dict[str, Any]]:
    lines = (state / "drp" / "event-handler.jsonl").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if "decision" in entry]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIGIE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_the_always_policy_activates_on_its_own_word_then_sees_the_drp_serving(tmp_path, state):
    config = site_with(tmp_path, activate="always")
    started = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("drp event-handler: activating: web-1!shop-url is HARD ")
    (decision,) = decisions(state)
    assert decision["command"][-4:-2] == ["--authorized-by", '[automation] activate = "always"']
    (run_id,) = wait_for(lambda: list(journal.all_runs()), 30, "the activation's journal")
    wait_for(lambda: run_succeeded(run_id), 60, "the activation")
    history = (state / "drp" / "authorizations.jsonl").read_text()
    assert '"by": "[automation] activate = \\"always\\""' in history
    assert "web-1!shop-url HARD CRITICAL at " in history
    # The DRP now serves: the host going DOWN as well starts nothing.
    again = drp(config, "event-handler", "--state", "DOWN", "--state-type", "HARD",
                "--attempt", "1", "--host", "web-1")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert decisions(state)[-1]["decision"] == "drp-active"
    assert f"the DRP already serves (activation {run_id})" in again.stdout


def test_a_run_holding_the_runbook_lock_starts_nothing_new(tmp_path, state):
    config = site_with(tmp_path, activate="always", prestage=True)
    with held_lock(state / "drp" / "locks" / "runbook.lock"):
        going = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert going.returncode == 0, going.stderr
    (decision,) = decisions(state)
    assert (decision["decision"], decision["start"]) == ("run-going", None)
    assert "a drp runbook run holds" in str(decision["reason"])
    assert "command" not in decision
    assert list(journal.all_runs()) == []


def test_without_an_order_a_prestage_is_started(tmp_path, state):
    config = site_with(tmp_path, prestage=True)
    first = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert first.returncode == 0, first.stderr
    (staged,) = decisions(state)
    assert (staged["decision"], staged["start"]) == ("needs-authorization", "prestage")
    assert staged["command"][-1] == "prestage"
    (run_id,) = wait_for(lambda: list(journal.all_runs()), 30, "the prestage's journal")
    assert run_id.startswith("prestage-")
    wait_for(lambda: run_succeeded(run_id), 60, "the prestage")
    assert f"drp prestage: run {run_id}" in Path(str(staged["child_log"])).read_text()


def test_a_child_of_the_handler_still_running_is_a_run_going(tmp_path, state):
    config = site_with(tmp_path, activate="always")
    child = subprocess.Popen(["sleep", "60"])
    try:
        ticks = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        record = {"pid": child.pid, "start_ticks": ticks, "what": "activate", "log": "/dev/null"}
        (state / "drp" / "event-handler.json").write_text(json.dumps({"child": record}))
        going = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    finally:
        child.kill()
        child.wait()
    assert going.returncode == 0, going.stderr
    assert decisions(state)[-1]["decision"] == "run-going"
    assert f"drp activate started by the event handler (pid {child.pid}" in going.stdout
    # Once it is gone (its pid possibly reused: the start time tells), the next one starts.
    after = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert after.returncode == 0, after.stderr
    assert decisions(state)[-1]["decision"] == "activating"
    (run_id,) = wait_for(lambda: list(journal.all_runs()), 30, "the activation's journal")
    wait_for(lambda: run_succeeded(run_id), 60, "the activation")


def test_soft_states_unwatched_objects_and_unreadable_events_start_nothing(tmp_path, state):
    config = site_with(tmp_path, activate="always")
    soft = drp(config, "event-handler", "--state", "CRITICAL", "--state-type", "SOFT",
               "--attempt", "1", *URL)  # fmt: skip
    other = drp(config, "event-handler", *HARD_CRITICAL, "--host", "mail-1", "--service", "smtp")
    broken = drp(config, "event-handler", "--state", "$SERVICESTATE$", "--state-type", "HARD",
                 *URL)  # fmt: skip
    assert (soft.returncode, other.returncode, broken.returncode) == (0, 0, 2)
    assert [d["decision"] for d in decisions(state)] == ["soft", "unwatched", "unreadable"]
    assert all("child" not in d for d in decisions(state))
    assert decisions(state)[2]["arguments"][0] == "$SERVICESTATE$"
    assert "--state '$SERVICESTATE$' is not a service state" in broken.stdout
    assert list(journal.all_runs()) == []


def test_two_handlers_at_once_start_one_activation(tmp_path, state):
    """The URL service and the host fail together: one decides after the other."""
    config = site_with(tmp_path, activate="always")
    host = ("--state", "DOWN", "--state-type", "HARD", "--attempt", "1", "--host", "web-1")
    both = [start_drp(config, "event-handler", *arguments, now=time.time())
            for arguments in ((*HARD_CRITICAL, *URL), host)]  # fmt: skip
    assert [handler.wait(timeout=30) for handler in both] == [0, 0]
    for handler in both:
        handler.communicate()
    first, second = (d["decision"] for d in decisions(state))
    assert first == "activating"
    # The second one saw the first one's run going, or (on a loaded machine) already done.
    assert second in ("run-going", "drp-active")
    (run_id,) = wait_for(lambda: list(journal.all_runs()), 30, "the activation's journal")
    wait_for(lambda: run_succeeded(run_id), 60, "the activation")
    assert len(list(journal.all_runs())) == 1


def test_a_handler_stuck_deciding_or_a_damaged_order_start_nothing(tmp_path, state):
    config = site_with(tmp_path)
    (state / "drp" / "authorization.json").write_text('{"by": "Jane Doe"}')
    damaged = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert damaged.returncode == 0, damaged.stderr
    entry = decisions(state)[-1]
    assert entry["decision"] == "needs-authorization"
    assert "the authorisation record authorization.json is damaged" in entry["problems"][0]
    with held_lock(state / "drp" / "locks" / "event-handler.lock"):
        stuck = drp(config, "event-handler", *HARD_CRITICAL, *URL)
    assert stuck.returncode == 0, stuck.stderr
    entry = decisions(state)[-1]
    assert (entry["decision"], entry["start"]) == ("run-going", None)
    assert "another event handler is still deciding" in entry["reason"]
    assert list(journal.all_runs()) == []
