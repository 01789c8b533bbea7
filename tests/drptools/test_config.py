"""The configuration: validation is a pure function with exact messages; files are checked."""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drptools import config
from drptools.config import ConfigError, parse, parse_location
from tests.conftest import REPO
from tests.helpers.drp import GOOD, drp

EXAMPLE = REPO / "examples" / "drp.toml"


def changed(path: str, value: object) -> dict[str, object]:
    """GOOD with the dotted ``path`` set to ``value`` (``DELETE`` removes it)."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    table = data
    for key in parents:
        table = table[key]  # type: ignore[assignment]
    if value is DELETE:
        del table[last]
    else:
        table[last] = value
    return data


DELETE = object()


def problems(data: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(data, "drp.toml")
    return raised.value.problems


def test_a_good_configuration_parses_into_what_it_says():
    loaded = parse(GOOD, "drp.toml")
    a, b = loaded.targets["A"], loaded.targets["B"]
    assert (str(a.location), a.location.is_remote) == ("/srv/backup", False)
    assert (b.location.host, b.location.path, b.ssh_config) == (
        "vigie@backup-b",
        "/srv/vigie",
        "/etc/vigie/ssh_config",
    )
    www = loaded.environments["www"]
    assert www.paths == ("/srv/www", "/etc/nginx")  # normalised
    shop, accounts = www.databases
    assert (shop.key, shop.name, shop.engine, shop.targets) == (
        "shop",
        "shop",
        "mariadb",
        ("A", "B"),
    )
    assert (accounts.host, accounts.port, accounts.targets, accounts.globals) == (
        "db",
        5432,
        ("B",),
        True,
    )
    assert (loaded.keep_files, loaded.keep_dumps) == (14, 36)


def test_the_shipped_example_is_valid_and_documents_every_key():
    text = EXAMPLE.read_text()
    loaded = parse(tomllib.loads(text), str(EXAMPLE))
    assert loaded.targets["B"].location.is_remote
    for key in (
        *config.TOP_KEYS,
        *config.TARGET_KEYS,
        *config.ENVIRONMENT_KEYS,
        *config.DATABASE_KEYS,
        *config.RETENTION_KEYS,
        *config.NOTIFICATION_KEYS,
    ):
        assert f"{key}" in text, f"examples/drp.toml does not mention {key}"


def _example_keys(data: dict[str, object]) -> set[tuple[str, str]]:
    """(section of :data:`drptools.config.SECTIONS`, key) of every key set in ``data``."""
    found = {("", key) for key in data}

    def tables(value: object) -> dict[str, dict[str, object]]:
        assert isinstance(value, dict)
        return value

    for section in ("retention", "limits", "status", "notification", "files"):
        found |= {(section, key) for key in tables(data.get(section, {}))}
    for target in tables(data["targets"]).values():
        found |= {("target", key) for key in target}
    for environment in tables(data["environments"]).values():
        found |= {("environment", key) for key in environment}
        for database in tables(environment.get("databases", {})).values():
            found |= {("database", key) for key in tables(database)}
    for section in ("drp", "production", "dns", "authorization", "automation", "drill"):
        found |= {(section, key) for key in tables(data.get(section, {}))}
    for side in ("drp", "production"):
        for server in tables(tables(data.get(side, {})).get("databases", {})).values():
            found |= {("server", key) for key in tables(server)}
    for target in tables(tables(data.get("drp", {})).get("targets", {})).values():
        found |= {("drp_target", key) for key in tables(target)}
    for site in tables(data.get("sites", {})).values():
        found |= {("site", key) for key in tables(site)}
    return found


def test_the_example_sets_every_key_of_the_schema_and_no_other():
    declared = {(section, key.name) for section, keys in config.SECTIONS.items() for key in keys}
    text = EXAMPLE.read_text()
    in_example = _example_keys(tomllib.loads(text))
    # An alternative to keys that are set (maintenance_flag) is shown commented out.
    shown = {(section, key) for section, key in declared if f"\n# {key} = " in text}
    missing = declared - in_example - shown
    assert sorted(missing) == [], "keys of the schema not in examples/drp.toml"
    assert sorted(in_example - declared) == [], "keys of examples/drp.toml not in the schema"
    for keys in config.SECTIONS.values():
        for key in keys:
            assert key.help, f"{key.name} has no help in drptools.config.schema"


def test_unknown_key_messages_list_the_schema_keys():
    data = copy.deepcopy(GOOD)
    data["retention"] = {"weeks": 2}
    with pytest.raises(ConfigError) as raised:
        parse(data)
    known = ", ".join(key.name for key in config.SECTIONS["retention"])
    assert f"retention.weeks: unknown key (known here: {known})" in raised.value.problems


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("datacenter", DELETE, "datacenter: missing (expected a string)"),
        ("datacenter", 3, "datacenter: expected a non-empty string, found an integer 3"),
        ("colour", "blue", f"colour: unknown key (known here: {', '.join(config.TOP_KEYS)})"),
        ("files", {"hard_links": "no"}, "files.hard_links: expected true or false, found a string "
         "'no'"),
        ("files", {"compress": True}, "files.compress: unknown key (known here: hard_links, "
         "sparse, acls, xattrs)"),
        ("targets.B", DELETE, "targets.B: missing (expected [targets.B] with location and "
         "datacenter)"),
        ("targets.C", {"location": "/x", "datacenter": "y"}, "targets.C: unknown target (the "
         "policy has two: A for even days, B for odd days)"),
        ("targets.A", "/srv", "targets.A: expected a table ([targets.A]), found a string"),
        ("targets.A.location", "srv/backup", "targets.A.location: 'srv/backup' is not an "
         "absolute path (/srv/backup), host:/path or user@host:/path"),
        ("targets.A.location", "host:srv", "targets.A.location: 'host:srv': the remote path "
         "'srv' is not absolute; expected host:/…"),
        ("targets.A.location", "-oProxyCommand=x:/srv", "targets.A.location: "
         "'-oProxyCommand=x:/srv': '-oProxyCommand=x' is not a host name or user@host"),
        ("targets.A.location", "@host:/srv", "targets.A.location: '@host:/srv': the user "
         "before '@' is empty"),
        ("targets.A.location", "/srv/ba\nckup", "targets.A.location: '/srv/ba\\nckup' holds a "
         "line break"),
        ("targets.A.ssh_config", "/etc/ssh", "targets.A.ssh_config: only for a host:/path "
         "location; /srv/backup is a local directory"),
        ("targets.B.ssh_config", "ssh_config", "targets.B.ssh_config: 'ssh_config' is not an "
         "absolute path"),
        ("targets.B.ssh_config", "/etc/my ssh", "targets.B.ssh_config: '/etc/my ssh' holds a "
         "space, quote or backslash, which rsync's -e option cannot carry; move the file"),
        ("targets.B.datacenter", "rennes-1", "targets: A and B are both in datacenter "
         "'rennes-1', where the service runs; the policy wants one of them in another "
         "datacenter"),
        ("targets.B.location", "/srv/backup/", "targets: A and B are both /srv/backup; the "
         "policy wants two different servers"),
        ("targets.B.port", 22, "targets.B.port: unknown key (known here: location, datacenter, "
         "ssh_config)"),
        ("retention", {"files": 0}, "retention.files: 0 is out of range (expected 1 to 10000)"),
        ("retention", {"dumps": "36"}, "retention.dumps: expected an integer, found a string "
         "'36'"),
        ("retention", {"files": True}, "retention.files: expected an integer, found a boolean "
         "true"),
        ("environments", {}, "environments: none configured (expected at least one "
         "[environments.NAME] with paths)"),
        ("environments.www.paths", DELETE, "environments.www.paths: missing (expected a list "
         "of absolute paths)"),
        ("environments.www.paths", [], "environments.www.paths: empty (expected at least one "
         "absolute path)"),
        ("environments.www.paths", "/srv/www", "environments.www.paths: expected a list of "
         "strings, found a string '/srv/www'"),
        ("environments.www.paths", ["srv/www"], "environments.www.paths[0]: 'srv/www' is not "
         "an absolute path"),
        ("environments.www.paths", ["/a", "/a"], "environments.www.paths[1]: '/a' is listed "
         "twice"),
        ("environments.www.paths", ["/srv"], "environments.www.paths: '/srv' holds target A's "
         "location /srv/backup; the backup would copy its own backups"),
        ("environments.www.excludes", [""], "environments.www.excludes[0]: expected a "
         "non-empty one-line string, found a string ''"),
        ("environments.www.databases.shop.engine", "oracle", "environments.www.databases.shop."
         "engine: 'oracle' is not one of mariadb, mysql, postgresql"),
        ("environments.www.databases.shop.engine", DELETE, "environments.www.databases.shop."
         "engine: missing (expected a string)"),
        ("environments.www.databases.shop.port", 70000, "environments.www.databases.shop.port: "
         "70000 is out of range (expected 1 to 65535)"),
        ("environments.www.databases.shop.socket", "mysqld.sock", "environments.www.databases."
         "shop.socket: 'mysqld.sock' is not an absolute path"),
        ("environments.www.databases.accounts.socket", "/run/pg", "environments.www.databases."
         "accounts: give host (and port) or socket, not both"),
        ("environments.www.databases.shop.password_file", "secret", "environments.www."
         "databases.shop.password_file: 'secret' is not an absolute path"),
        ("environments.www.databases.shop.password", "hunter2", "environments.www.databases."
         "shop.password: unknown key (known here: engine, name, host, port, socket, user, "
         "password_file, targets, globals)"),
        ("environments.www.databases.shop.targets", ["C"], "environments.www.databases.shop."
         "targets[0]: 'C' is not a target (expected A or B)"),
        ("environments.www.databases.shop.targets", [], "environments.www.databases.shop."
         "targets: empty (expected A, B or both)"),
        ("environments.www.databases.shop.globals", False, "environments.www.databases.shop."
         "globals: only for engine = \"postgresql\""),
        ("environments.www.databases.accounts.globals", "yes", "environments.www.databases."
         "accounts.globals: expected true or false, found a string 'yes'"),
        ("notification", {"mail_to": ["ops"]}, "notification.mail_to[0]: 'ops' is not a mail "
         "address (expected name@domain)"),
        ("notification", {"mail_to": ["ops@example.net"]}, "notification.mail_from: missing "
         "(needed with mail_to)"),
        ("notification", {"smtp_port": 0}, "notification.smtp_port: 0 is out of range "
         "(expected 1 to 65535)"),
    ],
)  # fmt: skip
def test_each_bad_configuration_gets_an_exact_message(path, value, message):
    found = problems(changed(path, value))
    assert any(problem.startswith(message) for problem in found), found


def test_snapshots_preserve_everything_unless_switched_off():
    assert parse(GOOD, "drp.toml").preserve == ("hard_links", "sparse", "acls", "xattrs")
    off = changed("files", {"acls": False, "sparse": False})
    assert parse(off, "drp.toml").preserve == ("hard_links", "xattrs")


def test_environment_names_must_be_usable_as_directory_names():
    data = copy.deepcopy(GOOD)
    environments = data["environments"]
    assert isinstance(environments, dict)
    environments["../etc"] = environments.pop("www")
    assert problems(data) == [
        "environments.../etc: '../etc' is not a usable name (letters, digits, '.', '-', '_'; "
        "not starting with '.'): it names directories and status files"
    ]


def test_every_problem_is_reported_at_once():
    data = changed("targets.A.location", "relative")
    data["retention"] = {"files": -1}
    found = problems(data)
    assert len(found) == 2
    error = ConfigError("drp.toml", found)
    assert error.one_line() == f"drp.toml: {found[0]} (and 1 more problem: drp config check)"


@pytest.mark.parametrize(
    ("text", "host", "path"),
    [("/srv/b", None, "/srv/b"), ("/srv//b/", None, "/srv/b"), ("h:/x", "h", "/x"),
     ("u@h.example:/x y", "u@h.example", "/x y"), ("h:/a:b", "h", "/a:b")],
)  # fmt: skip
def test_locations(text, host, path):
    location = parse_location(text)
    assert (location.host, location.path) == (host, path)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["location", "paths", "engine", "A", "B", "www",
                                       "targets", "environments", "databases", "x"]),
                      children, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_any_decoded_document_parses_or_is_refused_with_messages(document):
    data = document if isinstance(document, dict) else {"datacenter": document}
    try:
        parse({k: v for k, v in data.items() if v is not None}, "fuzz.toml")
    except ConfigError as error:
        problems = error.problems
    else:
        return
    assert problems
    assert all(isinstance(p, str) and p for p in problems)


def test_config_check_refuses_secrets_readable_by_group_or_others(tmp_path):
    secret = tmp_path / "shop.pw"
    secret.write_text("hunter2\n")
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    (tmp_path / "src").mkdir()
    path = tmp_path / "drp.toml"
    path.write_text(
        f'datacenter = "dc-1"\n[targets.A]\nlocation = "{tmp_path}/A"\ndatacenter = "dc-1"\n'
        f'[targets.B]\nlocation = "{tmp_path}/B"\ndatacenter = "dc-2"\n'
        f'[environments.www]\npaths = ["{tmp_path}/src", "{tmp_path}/missing"]\n'
        f'[environments.www.databases.shop]\nengine = "mariadb"\npassword_file = "{secret}"\n'
    )
    for mode, ok in ((0o644, False), (0o640, False), (0o604, False), (0o600, True), (0o400, True)):
        secret.chmod(mode)
        result = drp(path, "config", "check")
        assert result.returncode == 2  # the missing path is always a problem
        complaint = (
            f"drp: {path}: environments.www.databases.shop.password_file: {secret} is accessible "
            f"by group or others (mode {mode:04o}); a secret file must be mode 0600 or 0400 "
            f"(chmod 600 {secret})"
        )
        assert (complaint in result.stderr.splitlines()) is not ok, (oct(mode), result.stderr)
        assert f"drp: {path}: environments.www.paths: {tmp_path}/missing does not exist" in (
            result.stderr.splitlines()
        )
    (tmp_path / "missing").mkdir()
    result = drp(path, "config", "check")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == f"{path}: valid"


def test_config_errors_stop_every_action_with_one_line(tmp_path):
    path = tmp_path / "drp.toml"
    path.write_text("datacenter = 'x'\n[targets.A\n")
    result = drp(path, "backup", "files")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"drp: {path}: not valid TOML: ")
    assert "line 2" in result.stderr
    result = drp(tmp_path / "absent.toml", "status")
    assert (result.returncode, result.stderr) == (
        2,
        f"drp: {tmp_path}/absent.toml: no such file (give another with --config FILE)\n",
    )
    os.chmod(path, 0o000)
    if os.geteuid() != 0:  # root reads anything
        assert drp(path, "status").returncode == 2


def test_secret_problem_of_a_directory(tmp_path: Path) -> None:
    assert config.secret_problem(str(tmp_path), "x") == f"x: {tmp_path} is not a regular file"


def test_a_byte_that_is_not_utf8_is_one_line_naming_its_offset(tmp_path, monkeypatch):
    from checks.backup import backup
    from tests.helpers.drp import local_site

    _, good = local_site(tmp_path)
    path = tmp_path / "latin1.toml"
    text = good.read_bytes()
    path.write_bytes(b"# r\xe9sum\xe9 of the site\n" + text)
    for action in (["config", "check"], ["backup", "files"], ["status"]):
        result = drp(path, *action)
        assert (result.returncode, result.stderr) == (
            2,
            f"drp: {path}: not UTF-8, as TOML must be: byte 0xe9 at offset 3 (line 1)\n",
        ), action
    outcome = backup.PLUGIN.run(["--config", str(path)])
    assert (outcome.state, outcome.summary) == (
        3,
        f"{path}: not UTF-8, as TOML must be: byte 0xe9 at offset 3 (line 1)",
    )


@pytest.mark.parametrize("where", ["mail_from", "mail_to"])
@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_line_breaks_in_mail_addresses_are_refused(where, breaker):
    bad = f"drp@example.net{breaker}Bcc:everyone@example.net"  # no space: one "address"
    notification: dict[str, object] = {
        "mail_to": ["oncall@example.net"],
        "mail_from": "drp@example.net",
    }
    notification[where] = bad if where == "mail_from" else [bad]
    data = {**copy.deepcopy(GOOD), "notification": notification}
    expected = (
        f"notification.mail_from: {bad!r} is not a mail address (expected name@domain)"
        if where == "mail_from"
        else f"notification.mail_to[0]: expected a non-empty one-line string, found a string "
        f"{bad!r}"
    )
    assert problems(data) == [expected]


def test_the_status_group_must_exist_on_the_machine(tmp_path):
    from tests.helpers.drp import local_site

    _, path = local_site(tmp_path)
    path.write_text(path.read_text() + '\n[status]\ngroup = "no-such-group-here"\n')
    for action in (["config", "check"], ["status"]):
        result = drp(path, *action)
        assert (result.returncode, result.stderr) == (
            2,
            f"drp: {path}: status.group: no group 'no-such-group-here' on this machine\n",
        ), action
    assert problems({**GOOD, "status": {"group": "-x y", "mode": 1}}) == [
        "status.mode: unknown key (known here: group)",
        "status.group: '-x y' is not a group name (letters, digits, '.', '-', '_'; not "
        "starting with '-')",
    ]


def test_the_drill_scratch_defaults_to_var_tmp_and_must_be_absolute():
    base: dict[str, object] = {
        "datacenter": "dc-1",
        "targets": {"A": {"location": "/a", "datacenter": "dc-1"},
                    "B": {"location": "/b", "datacenter": "dc-2"}},
        "environments": {"www": {"paths": ["/srv"]}},
    }  # fmt: skip
    assert config.parse(base).drill_scratch == "/var/tmp/vigie-drill"
    assert config.parse({**base, "drill": {"scratch": "/srv/drill"}}).drill_scratch == "/srv/drill"
    with pytest.raises(config.ConfigError, match=r"drill\.scratch"):
        config.parse({**base, "drill": {"scratch": "relative"}})
