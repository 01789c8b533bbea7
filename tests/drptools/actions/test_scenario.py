"""The DRP from the customer's order to the return home, in one scenario of real parts.

Production's files (local) and its MariaDB and PostgreSQL; target A local, target B over a
real sshd as an account that is not root; a DRP root and the DRP's own MariaDB and
PostgreSQL; the zone on a real BIND primary and secondary (TSIG, NOTIFY); notices by mail
to a loopback SMTP receiver, by webhook and as comments in a real Icinga 2 API; nginx
serving the site on both sides (production on 127.0.0.2, the DRP on 127.0.0.1, one port)
for the site checks. Production is destroyed after its backups; the DRP is refused without
an order and changes nothing in a dry run; activated with an order, it serves what the
backups held; written to during the outage; failed back, production has those writes and
the DNS points home again.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from drptools import dns as switch
from drptools import journal
from drptools.config.model import Dns
from tests.helpers.drp import (
    DRP_ADDRESSES,
    EVEN_NOON,
    drp,
    mail_sink,
    make_tree,
    toml,
    tree_digest,
    webhook_receiver,
    write_config,
)
from tests.helpers.drp_databases import ACCOUNTS, SHOP, accounts_sum, server, shop_sum
from tests.servers.bind_zone import KEY_NAME, PRIMARY, PRODUCTION, SECONDARY, ZONE, Zone
from tests.servers.icinga_api import HOST, IcingaApi
from tests.servers.mariadb import MariaDB
from tests.servers.nginx import virtual_host
from tests.servers.postgresql import PostgreSQL
from tests.servers.sshd import Sshd

pytestmark = pytest.mark.integration

HOUR = 3600
WWW = f"www.{ZONE}"
PAGE = "the shop is open\n"
PRODUCTION_ADDRESSES = [PRODUCTION, "2001:db8::10"]


def test_the_drp_from_the_order_to_the_return_home(
    tmp_path: Path,
    bind_zone: Zone,
    sshd_user: Sshd,
    icinga_api: IcingaApi,
    mariadb_factory: Callable[[], MariaDB],
    postgresql_factory: Callable[[], PostgreSQL],
) -> None:
    production_shop, drp_shop = mariadb_factory(), mariadb_factory()
    production_accounts, drp_accounts = postgresql_factory(), postgresql_factory()
    production_shop.sql(SHOP)
    production_accounts.psql(ACCOUNTS)
    source = make_tree(tmp_path / "src", 3, 3)
    (source / "index.html").write_text(PAGE)
    (tmp_path / "A").mkdir()
    drp_root = tmp_path / "drp"
    drp_root.mkdir()
    restored = drp_root / str(source).lstrip("/")
    restored.mkdir(parents=True)  # the DRP's web server is configured before the disaster
    config = write_config(
        tmp_path / "drp.toml", a=str(tmp_path / "A"),
        b=f"{sshd_user.alias}:{sshd_user.directory / 'backup B'}",
        ssh_config=sshd_user.ssh_config, environments={"www": {"paths": [str(source)]}},
    )  # fmt: skip
    zone = Dns(ZONE, PRIMARY, KEY_NAME, str(bind_zone.key_file), {}, port=bind_zone.port)

    def held() -> list[switch.Addresses]:
        return [switch.held(zone, address, WWW) for address in (PRIMARY, SECONDARY)]

    def drp_side() -> tuple[str, str, str, list[switch.Addresses]]:
        """Everything the DRP side and the zone hold, to prove that nothing changed."""
        shop = drp_shop.sql("SHOW DATABASES")
        accounts = drp_accounts.psql("SELECT string_agg(datname, ',' ORDER BY 1) FROM pg_database")
        return tree_digest(drp_root), shop, accounts, held()

    with (
        mail_sink() as (smtp_port, mails),
        webhook_receiver() as (webhook_url, hooks),
        virtual_host(tmp_path / "nginx-drp", restored, WWW) as port,
        virtual_host(tmp_path / "nginx-production", source, WWW, "127.0.0.2", port),
    ):
        config.write_text(config.read_text() + toml({
            "notification": {
                "mail_to": ["oncall@example.net"], "mail_from": "drp@example.net",
                "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "webhook_url": webhook_url,
                "icinga_url": icinga_api.url, "icinga_credentials": str(icinga_api.credentials),
                "icinga_ca_file": str(icinga_api.ca_file), "icinga_host": HOST,
            },
            "environments.www.databases.shop": {"engine": "mariadb", **server(production_shop)},
            "environments.www.databases.accounts": {"engine": "postgresql",
                                                    **server(production_accounts)},
            "drp": {"location": str(drp_root), "datacenter": "dc-3",
                    "addresses": DRP_ADDRESSES, "site_address": "127.0.0.1"},
            "drp.databases.mariadb": server(drp_shop),
            "drp.databases.postgresql": server(drp_accounts),
            "production": {"addresses": PRODUCTION_ADDRESSES, "site_address": "127.0.0.2",
                           "maintenance_flag": str(tmp_path / "maintenance")},
            "production.databases.mariadb": server(production_shop),
            "production.databases.postgresql": server(production_accounts),
            "dns": {"zone": ZONE, "primary": PRIMARY, "port": bind_zone.port,
                    "key_name": KEY_NAME, "key_file": str(bind_zone.key_file),
                    "verify_timeout_seconds": 20},
            "dns.records": {"www": [WWW]},
            "sites.www": {"url": f"http://{WWW}:{port}/index.html", "contains": "shop is open"},
        }))  # fmt: skip
        # The backups: files on A at noon and on B (over ssh) an hour later, the dumps then.
        for target, now in (("A", EVEN_NOON), ("B", EVEN_NOON + HOUR)):
            made = drp(config, "backup", "files", "--target", target, now=now)
            assert made.returncode == 0, made.stderr
        dumped = drp(config, "backup", "db", now=EVEN_NOON + HOUR)
        assert dumped.returncode == 0, dumped.stderr
        files, shop, accounts = tree_digest(source), shop_sum(production_shop), accounts_sum(
            production_accounts)  # fmt: skip

        # Production is lost.
        shutil.rmtree(source)
        production_shop.sql("DROP DATABASE shop")
        production_accounts.psql("DROP DATABASE accounts")
        untouched = drp_side()

        refused = drp(config, "activate", "--yes", now=EVEN_NOON + 2 * HOUR)
        assert refused.returncode != 0
        assert "authoris" in refused.stderr
        planned = drp(config, "activate", "--dry-run", now=EVEN_NOON + 2 * HOUR)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert " on B" in planned.stdout  # the newest backup, from the other datacenter
        sized = re.findall(r"^\d/7 (copy|import) .* \((\d[\d.]* [KM]?i?B)", planned.stdout, re.M)
        assert [kind for kind, _ in sized] == ["copy", "import", "import"], planned.stdout
        assert drp_side() == untouched
        assert not source.exists()

        ordered = drp(config, "authorize", "--by", "Jane Doe", "--reference", "C-42",
                      now=EVEN_NOON + 2 * HOUR)  # fmt: skip
        assert ordered.returncode == 0, ordered.stderr
        activated = drp(config, "activate", "--yes", now=EVEN_NOON + 2 * HOUR)
        assert activated.returncode == 0, activated.stdout + activated.stderr
        assert tree_digest(restored) == files
        assert shop_sum(drp_shop) == shop
        assert accounts_sum(drp_accounts) == accounts
        assert held() == [switch.Addresses.of(DRP_ADDRESSES)] * 2
        (run_id,) = list(journal.all_runs())
        ends = {r["step"]: r["result"] for r in journal.read(run_id) if r["event"] == "end"}
        assert ends["verify-files:www"] == ends["verify-site:www:drp"] == "ok"
        subjects = [text for _, _, text in mails]
        assert any(f"DRP activate run {run_id} complete" in text for text in subjects)
        assert [str(hook["subject"]) for hook in hooks][-1].endswith(" complete")
        comments = [str(c["text"]) for c in icinga_api.objects("comments")]
        assert any(run_id in comment for comment in comments)

        # The DRP serves during the outage: a file and rows are written there.
        (restored / "uploaded.txt").write_text("sent during the outage\n")
        drp_shop.sql("INSERT INTO orders (total, note) VALUES (42, 'during the outage')", "shop")
        drp_accounts.psql("INSERT INTO users (email, balance) VALUES ('new@example.net', 1)",
                          "accounts")  # fmt: skip

        back = drp(config, "failback", "--yes", now=EVEN_NOON + 3 * HOUR)
        assert back.returncode == 0, back.stdout + back.stderr
        assert (source / "uploaded.txt").read_text() == "sent during the outage\n"
        assert tree_digest(source) == tree_digest(restored)
        assert shop_sum(production_shop) == shop_sum(drp_shop) != shop
        assert accounts_sum(production_accounts) == accounts_sum(drp_accounts) != accounts
        assert held() == [switch.Addresses.of(PRODUCTION_ADDRESSES)] * 2
        assert not (tmp_path / "maintenance").exists()
        (failback_id,) = [run for run in journal.all_runs() if run.startswith("failback-")]
        ends = {r["step"]: r["result"] for r in journal.read(failback_id) if r["event"] == "end"}
        assert ends["verify-site:www:production"] == "ok"
