"""drp authorize: the customer's order recorded, shown, expiring, revoked, notified."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from drptools import authorization
from drptools.errors import BadUse, Failure
from tests.helpers.drp import EVEN_NOON, drp, local_site, mail_sink, notify_by_mail

HOUR = 3600


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    return local_site(tmp_path)


def history(state: Path) -> list[dict[str, object]]:
    lines = (state / "drp" / "authorizations.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_an_order_is_recorded_shown_and_mailed(
    site: tuple[Path, Path], isolated_state: Path
) -> None:
    _, config = site
    with mail_sink() as (port, received):
        notify_by_mail(config, port)
        done = drp(config, "authorize", "--by", "Jane Doe", "--reference", "CHG-1234",
                   now=EVEN_NOON)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("recorded: DRP activation authorised by Jane Doe "
                                      "(reference CHG-1234), recorded by ")  # fmt: skip
        ((_, _, mail),) = received
    assert "Subject: drp on " in mail
    assert "DRP activation authorised by Jane Doe (CHG-1234)" in mail
    shown = drp(config, "authorize", now=EVEN_NOON + HOUR)
    assert (shown.returncode, shown.stdout.split(":")[0]) == (0, "valid")
    (entry,) = history(isolated_state)
    assert (entry["event"], entry["by"], entry["until"]) == (
        "authorize", "Jane Doe", EVEN_NOON + 4 * HOUR,
    )  # fmt: skip


def test_an_order_expires(site: tuple[Path, Path]) -> None:
    _, config = site
    assert drp(config, "authorize", "--by", "J", "--reference", "R", "--valid", "90m",
               now=EVEN_NOON).returncode == 0  # fmt: skip
    shown = drp(config, "authorize", now=EVEN_NOON + 91 * 60)
    assert (shown.returncode, shown.stdout.split(":")[0]) == (1, "EXPIRED")


def test_revoking_withdraws_the_order_and_keeps_the_history(
    site: tuple[Path, Path], isolated_state: Path
) -> None:
    _, config = site
    drp(config, "authorize", "--by", "J", "--reference", "R", now=EVEN_NOON)
    revoked = drp(config, "authorize", "--revoke", now=EVEN_NOON + 60)
    assert revoked.stdout.startswith("revoked the authorisation by J (reference R)")
    assert drp(config, "authorize", now=EVEN_NOON + 120).stdout == "no authorisation recorded\n"
    assert [entry["event"] for entry in history(isolated_state)] == ["authorize", "revoke"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "J"), "--by and --reference go together"),
        (("--revoke", "--by", "J"), "--revoke takes no --by"),
        (("--by", "J\nK", "--reference", "R"), "--by 'J\\nK': expected a non-empty line"),
        (("--by", "J", "--reference", "R", "--valid", "8d"), "is not a duration from 1 s to 7"),
        (("--by", "J", "--reference", "R", "--valid", "4x"), "unknown duration unit 'x'"),
    ],
)
def test_bad_orders_are_refused_in_one_line(
    site: tuple[Path, Path], args: tuple[str, ...], message: str
) -> None:
    _, config = site
    refused = drp(config, "authorize", *args, now=EVEN_NOON)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert len(refused.stderr.splitlines()) == 1


def test_activation_needs_an_order_in_force(
    isolated_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_DRP_NOW", str(EVEN_NOON))
    with pytest.raises(Failure, match="no authorisation: the DRP is activated only on the"):
        authorization.required(4, None, None, "drp activate")
    with pytest.raises(BadUse, match="go together"):
        authorization.required(4, "J", None, "drp activate")
    given = authorization.required(4, "J", "R", "drp activate --authorized-by")
    assert authorization.required(4, None, None, "drp activate").fields() == given.fields()
    monkeypatch.setenv("VIGIE_DRP_NOW", str(EVEN_NOON + 5 * HOUR))
    with pytest.raises(Failure, match="has expired; record it again"):
        authorization.required(4, None, None, "drp activate")
    assert os.stat(isolated_state / "drp" / "authorization.json").st_mode & 0o002 == 0
