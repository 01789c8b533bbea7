"""``vigie list`` and ``vigie run``: the local suite in one process, a table, the worst state."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from checks import registry, suite
from checks.core import statefile
from checks.core.output import STATE_NAMES
from checks.core.runtime import Outcome
from checks.system import cpu
from tests.conftest import executable


def test_most_severe_puts_critical_above_unknown_above_warning():
    assert suite.most_severe([]) == 0
    assert suite.most_severe([0, 1, 0]) == 1
    assert suite.most_severe([1, 3, 0]) == 3
    assert suite.most_severe([3, 2, 1]) == 2


def test_table_aligns_rows_and_colours_only_when_asked():
    results = [
        ("load", ["check_load"], Outcome(0, "load average 0.1", "")),
        ("partitions", ["check_partitions"], Outcome(2, "/ free 1% <= 5%", "")),
    ]
    assert suite.table(results, colour=False) == (
        "CHECK       STATE     SUMMARY\n"
        "load        OK        load average 0.1\n"
        "partitions  CRITICAL  / free 1% <= 5%\n"
    )
    assert "\033[31mCRITICAL\033[0m" in suite.table(results, colour=True)


def test_run_only_some_checks_in_process(capsys):
    code = suite.main(["run", "--only", "load,uptime", "--only", "memory"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["CHECK", "load", "memory", "uptime"]
    states = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert code == suite.most_severe([STATE_NAMES.index(state) for state in states.values()])


def test_an_unknown_check_name_is_refused_with_exit_3(capsys):
    assert suite.main(["run", "--only", "load,nope"]) == 3
    assert "no local check named nope" in capsys.readouterr().err


def test_bad_use_exits_3_not_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        suite.main(["fly"])
    assert exit_.value.code == 3


def test_list_names_every_local_check_with_its_arguments(capsys):
    assert suite.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "zombies     check_procs --warning-zombies 5 --critical-zombies 50\n" in out
    for _, name, arguments in suite.local_checks():
        assert f"\n{name} " in f"\n{out}"
        assert " ".join(arguments) in out


def test_the_whole_suite_as_a_process_in_json_under_a_second():
    started = time.monotonic()
    result = subprocess.run(
        [executable("vigie"), "run", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    rows = json.loads(result.stdout)
    assert [row["check"] for row in rows] == [name for _, name, _ in suite.local_checks()]
    for row in rows:
        assert row["state_name"] in ("OK", "WARNING", "CRITICAL", "UNKNOWN")
        executable_name = row["command"][0]
        assert row["output"].startswith(executable_name[len("check_") :].upper() + " ")
    assert result.returncode == suite.most_severe([row["state"] for row in rows])
    assert result.stderr == ""
    # Not a benchmark (make bench measures it): a bound that catches a check run twice
    # or a sample that grew, generous for a busy CI machine.
    assert elapsed < 5


def test_the_suite_imports_only_the_checks_that_declare_a_local_entry():
    everything = [
        (entry.rank, plugin.name, entry.name, entry.arguments)
        for plugin in registry.plugins()
        for entry in plugin.local
    ]
    assert [(plugin.name, name, arguments) for plugin, name, arguments in suite.local_checks()] == [
        (plugin, name, arguments) for _, plugin, name, arguments in sorted(everything)
    ]
    script = (
        "import sys; from checks import suite; suite.local_checks(); "
        "print(sorted(name for name in sys.modules if name.startswith('checks.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    imported = result.stdout
    assert "'checks.system.cpu'" in imported
    assert "'checks.network.interfaces'" in imported
    for remote in ("checks.cluster.drbd", "checks.web.url", "checks.backup.backup"):
        assert f"'{remote}'" not in imported


def test_a_run_soon_after_another_takes_no_cpu_sample(isolated_state, monkeypatch, capsys):
    """With the previous run's reading stored, check_cpu judges over the interval since."""
    assert suite.main(["run", "--only", "cpu"]) in (0, 1, 2)
    # Older than the shortest interval check_cpu accepts: the counters have moved (a
    # younger reading is waited for, and a wait that does not really pass, as the one
    # recorded below, would leave them unchanged).
    time.sleep(cpu.SHORTEST * 2)
    waits: list[float] = []
    monkeypatch.setattr(statefile.time, "sleep", waits.append)
    assert suite.main(["run", "--only", "cpu"]) in (0, 1, 2)
    assert waits == []  # never the suite's 0.4 s sample, nor any wait
    assert " over the last " in capsys.readouterr().out.splitlines()[-1]
