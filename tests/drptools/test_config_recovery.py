"""The DRP sections of drp.toml: [drp], [production], [dns], [authorization]."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from drptools.config import ConfigError, check_files, parse
from tests.helpers.drp import GOOD

RECOVERY: dict[str, object] = {
    "drp": {
        "location": "/srv/drp",
        "datacenter": "dc-3",
        "addresses": ["203.0.113.20", "2001:db8::20"],
        "targets": {"A": {"location": "vigie@backup-a:/srv/backup"}},
        "databases": {"mariadb": {"socket": "/run/mysqld/mysqld.sock", "user": "root"}},
    },
    "production": {
        "addresses": ["192.0.2.10"],
        "maintenance_flag": "/srv/www/.maintenance",
        "databases": {"postgresql": {"host": "127.0.0.1", "port": 5432}},
    },
    "dns": {
        "zone": "Example.NET.",
        "primary": "192.0.2.53",
        "key_name": "drp",
        "key_file": "/etc/vigie/secrets/drp.tsig",
        "records": {"www": ["www.example.net.", "example.net"]},
    },
    "authorization": {"valid_hours": 8},
}


def with_recovery(**changes: object) -> dict[str, object]:
    """GOOD plus RECOVERY, with ``section.key`` paths set (None removes)."""
    data = copy.deepcopy(GOOD) | copy.deepcopy(RECOVERY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        table = data
        for key in parents:
            table = table[key]  # type: ignore[assignment]
        if value is None:
            del table[last]
        else:
            table[last] = value
    return data


def problems_of(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(data, "drp.toml")
    return raised.value.problems


def test_the_drp_sections_parse_into_what_they_say() -> None:
    loaded = parse(with_recovery(), "drp.toml")
    assert loaded.drp is not None
    assert loaded.production is not None
    assert loaded.dns is not None
    assert (str(loaded.drp.location), loaded.drp.datacenter) == ("/srv/drp", "dc-3")
    assert str(loaded.drp.targets["A"][0]) == "vigie@backup-a:/srv/backup"
    assert loaded.drp.targets["B"][0] == loaded.targets["B"].location  # default: as production
    assert loaded.drp.databases["mariadb"].socket == "/run/mysqld/mysqld.sock"
    assert str(loaded.production.location) == "/"  # the default
    assert loaded.production.datacenter == loaded.datacenter
    assert loaded.production.maintenance_flag == "/srv/www/.maintenance"
    assert (loaded.dns.zone, loaded.dns.port, loaded.dns.key_algorithm) == (
        "example.net", 53, "hmac-sha256",
    )  # fmt: skip
    assert loaded.dns.records == {"www": ("www.example.net", "example.net")}
    assert loaded.authorization_hours == 8


def test_a_backup_only_configuration_has_no_drp() -> None:
    loaded = parse(copy.deepcopy(GOOD), "drp.toml")
    assert (loaded.drp, loaded.production, loaded.dns, loaded.authorization_hours) == (
        None, None, None, 4,
    )  # fmt: skip


def test_a_drp_server_database_is_the_backed_up_one_with_its_own_connection() -> None:
    loaded = parse(with_recovery(), "drp.toml")
    assert loaded.drp is not None
    backed_up = loaded.environments["www"].databases[0]
    restored = loaded.drp.databases["mariadb"].database(backed_up)
    assert (restored.name, restored.key, restored.socket, restored.user) == (
        backed_up.name, backed_up.key, "/run/mysqld/mysqld.sock", "root",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"drp__datacenter": "rennes-1"},
         "drp.datacenter: 'rennes-1' is where the service runs"),
        ({"drp__location": "drp"}, "drp.location: 'drp' is not an absolute path"),
        ({"drp__addresses": ["drp.example.net"]},
         "drp.addresses[0]: 'drp.example.net' is not an IPv4 or IPv6 address"),
        ({"drp__addresses": None}, "drp.addresses: missing (expected the public addresses"),
        ({"drp__targets": {"C": {"location": "/x"}}}, "drp.targets.C: unknown target"),
        ({"drp__databases": {"oracle": {}}},
         "drp.databases.oracle: 'oracle' is not one of mariadb, mysql, postgresql"),
        ({"drp__databases": {"mariadb": {"host": "h", "socket": "/s"}}},
         "drp.databases.mariadb: give host (and port) or socket, not both"),
        ({"drp__databases": {"mariadb": {"pasword_file": "/s"}}},
         "drp.databases.mariadb.pasword_file: unknown key (known here: host, port, socket"),
        ({"production__maintenance_flag": None},
         "production: no way to put production in maintenance"),
        ({"production__maintenance_on": ["maintenance", "on"]},
         "production: give both maintenance_on and maintenance_off, or neither"),
        ({"dns__primary": "ns1.example.net"},
         "dns.primary: 'ns1.example.net' is not an IPv4 or IPv6 address"),
        ({"dns__key_algorithm": "hmac-md5"}, "dns.key_algorithm: 'hmac-md5' is not one of"),
        ({"dns__key_file": None}, "dns.key_file: missing"),
        ({"dns__records": {"www": ["www.example.org"]}},
         "dns.records.www[0]: 'www.example.org' is not in zone 'example.net'"),
        ({"dns__records": {"blog": ["blog.example.net"]}},
         "dns.records.blog: no such environment (known: www)"),
        ({"authorization__valid_hours": 0},
         "authorization.valid_hours: 0 is out of range (expected 1 to 168)"),
    ],
)  # fmt: skip
def test_each_bad_drp_setting_gets_an_exact_message(
    changes: dict[str, object], message: str
) -> None:
    found = problems_of(with_recovery(**changes))
    assert any(problem.startswith(message) for problem in found), found


def test_secret_files_of_the_drp_sections_are_checked(tmp_path: Path) -> None:
    key = tmp_path / "drp.tsig"
    key.write_text("c2VjcmV0\n")
    key.chmod(0o644)
    loaded = parse(with_recovery(dns__key_file=str(key)), "drp.toml")
    assert any(
        problem.startswith(f"dns.key_file: {key} is accessible by group or others (mode 0644)")
        for problem in check_files(loaded)
    )
