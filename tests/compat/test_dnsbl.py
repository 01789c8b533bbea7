"""check_dnsbl beside check_rbl (monitoring-plugins-contrib): same zones, same arguments.

Both run inside a private namespace whose system resolver is a real named serving the
test zones on port 53 there (tests/servers/bind.py): check_rbl has no option for a port.
Each case runs check_rbl first, then check_dnsbl, with the same check_rbl arguments
(``-H -s -w -c -n -t``), and asserts the same state, or both states where vigie
deliberately differs: an answer that is an error code or no answer at all is UNKNOWN for
vigie, where check_rbl counts an error code as a listing and a SERVFAIL as "not listed".
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import C_PLUGINS, executable
from tests.helpers.contract import assert_conforms
from tests.servers.bind import CLEAN_V4, LISTED_V4, LISTED_V6, NamespacedNamed

pytestmark = pytest.mark.integration
CHECK_RBL = C_PLUGINS / "check_rbl"


def both(
    server: NamespacedNamed, *args: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """check_rbl, then check_dnsbl, with ``args``, inside the named's namespace."""
    if not CHECK_RBL.exists():
        pytest.skip(f"{CHECK_RBL} not installed (apt install monitoring-plugins-contrib)")
    results = []
    for path in (str(CHECK_RBL), executable("check_dnsbl")):
        results.append(server.namespace.run(path, *args))
    assert_conforms("dnsbl", results[1].returncode, results[1].stdout, results[1].stderr)
    return results[0], results[1]


@pytest.mark.parametrize(
    ("args", "state"),
    [
        (("-H", CLEAN_V4, "-s", "bl.test", "-w", "1", "-c", "1"), 0),
        (("-H", LISTED_V4, "-s", "bl.test", "-w", "1", "-c", "1"), 2),
        (("-H", LISTED_V4, "-s", "bl.test", "-s", "z01.test", "-w", "2", "-c", "3"), 1),
        (("-H", LISTED_V4, "-s", "bl.test", "-s", "z01.test", "-s", "z02.test", "-w", "2",
          "-c", "3"), 2),
        (("-H", LISTED_V4, "-s", "bl.test", "-w", "2", "-c", "2"), 0),
        (("-H", LISTED_V6, "-s", "bl.test", "-w", "1", "-c", "1", "-n", "127.0.0.1"), 2),
    ],
)  # fmt: skip
def test_same_state_as_check_rbl(named_in_netns, args, state):
    rbl, vigie = both(named_in_netns, *args)
    assert (rbl.returncode, vigie.returncode) == (state, state), (rbl.stdout, vigie.stdout)


def test_a_name_from_the_hosts_file(named_in_netns):
    # check_rbl resolves -H through DNS only (Net::DNS): a name of /etc/hosts is not found
    rbl, vigie = both(named_in_netns, "-H", "mail.test", "-s", "z03.test", "-w", "1", "-c", "1")
    assert (rbl.returncode, vigie.returncode) == (3, 2), (rbl.stdout, vigie.stdout)


def test_error_codes_and_dead_zones_are_unknown_not_listed_nor_clean(named_in_netns):
    # check_rbl counts Spamhaus' "public resolver" code as a listing
    rbl, vigie = both(named_in_netns, "-H", LISTED_V4, "-s", "public.test", "-w", "1", "-c", "1")
    assert (rbl.returncode, vigie.returncode) == (2, 3), (rbl.stdout, vigie.stdout)
    # check_rbl reads a SERVFAIL as "not listed"
    rbl, vigie = both(named_in_netns, "-H", LISTED_V4, "-s", "servfail.test", "-w", "1", "-c", "1")
    assert (rbl.returncode, vigie.returncode) == (0, 3), (rbl.stdout, vigie.stdout)
    assert "servfail.test: not answering (SERVFAIL)" in vigie.stdout
