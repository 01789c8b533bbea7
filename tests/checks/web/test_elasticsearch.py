"""check_elasticsearch: cluster health parsed from the real captures of Elasticsearch 1.7 to
8.x, then the check against a loopback server answering those captures.

Elasticsearch is not in Debian: tests/servers/elasticsearch_fake.py serves the shared
captures read in place, a 401 as Elasticsearch 8 answers it, broken JSON, an HTML page
and a 503; refused, silent and garbage-answering ports complete the failures.
"""

from __future__ import annotations

import json
import re
import threading

import nagiosplugin
import pytest

from checks.core.errors import ParseError
from checks.core.runtime import Outcome
from checks.web.elasticsearch import PLUGIN, Colour, parse_health
from tests.conftest import shared_fixtures, shared_fixtures_dir
from tests.helpers.contract import assert_conforms, run_installed
from tests.helpers.http_failures import HTTP_FAILURES, critical_once_stopped, damaged_pages_served
from tests.helpers.icinga import applied_services
from tests.helpers.mutations import every_damage_parses_or_refuses
from tests.servers.elasticsearch_fake import PASSWORD, USER, FakeElasticsearch

GREEN = "cluster_health_green_3_nodes"
YELLOW = "cluster_health_es7_13_yellow_30_unassigned"


def shared(name: str) -> str:
    return (shared_fixtures() / "elasticsearch" / f"{name}.json").read_text()


def edited(name: str, **changes: object) -> str:
    """A capture with some fields changed (states no capture shows: red, timed out)."""
    return json.dumps({**json.loads(shared(name)), **changes})


# --- the parser ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "colour", "nodes", "unassigned", "percent"),
    [("cluster_health_es1_7_yellow_single_node", "yellow", 1, 5, None),
     ("cluster_health_es5_4_yellow_single_node", "yellow", 1, 5, 50),
     (YELLOW, "yellow", 1, 30, 50),
     (GREEN, "green", 3, 0, 100)],
)  # fmt: skip
def test_the_captures_of_every_version(name, colour, nodes, unassigned, percent):
    health = parse_health(shared(name))
    assert (health.colour, health.timed_out) == (colour, False)
    assert health.counts["nodes"] == nodes
    assert health.counts["unassigned_shards"] == unassigned
    assert health.counts.get("active_shards_percent") == percent


@pytest.mark.parametrize(
    ("text", "message"),
    [("<html><body>Kibana</body></html>", "an HTML page, not Elasticsearch cluster health"),
     ('{"cluster_name": "x", "status": "gre', "not JSON, not Elasticsearch cluster health"),
     ("[1, 2]", "JSON that is not cluster health (no status and number_of_nodes): list"),
     ("@health_report_es8_7_green", "(no status and number_of_nodes): status, cluster_name, "
                                    "indicators"),
     ("@snapshots_es5_4_failed", "(no status and number_of_nodes): snapshots"),
     (edited(GREEN, status="purple"), "status 'purple' is not green, yellow or red"),
     (edited(GREEN, unassigned_shards=True), "unassigned_shards is not a count: True"),
     (edited(GREEN, number_of_nodes=-1), "number_of_nodes is not a count: -1"),
     (edited(GREEN, timed_out="no"), "timed_out is not true or false: 'no'")],
)  # fmt: skip
def test_what_is_not_cluster_health_is_refused(text, message):
    if text.startswith("@"):
        text = shared(text[1:])
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_health(text)


@pytest.mark.parametrize(
    ("changes", "state", "words"),
    [({}, 0, "cluster elasticsearch_telegraf is green"),
     ({"status": "red"}, 2, "cluster elasticsearch_telegraf is red"),
     ({"timed_out": True}, 2,
      "cluster elasticsearch_telegraf is green and the health request timed out on the cluster")],
)  # fmt: skip
def test_red_and_a_timed_out_request_are_critical(changes, state, words):
    health = parse_health(edited(GREEN, **changes))
    metric = nagiosplugin.Metric("status", health, context="status")
    context = Colour()
    verdict = context.evaluate(metric.replace(contextobj=context), None)
    assert verdict.state.code == state
    assert str(verdict) == words


CAPTURES = [path.read_text() for path in sorted(shared_fixtures_dir().glob("elasticsearch/*"))]


@pytest.mark.parametrize("text", CAPTURES)
def test_damaged_captures_parse_or_are_refused(text):
    every_damage_parses_or_refuses(parse_health, text, examples=50)


@pytest.mark.integration
def test_a_damaged_page_served_is_judged_or_one_clear_unknown(elasticsearch):
    damaged_pages_served(PLUGIN, elasticsearch, CAPTURES, "application/json")


# --- against the captures served on loopback ----------------------------------------------


def run(*args: str) -> Outcome:
    outcome = PLUGIN.run(list(args))
    assert_conforms("elasticsearch", outcome.state, outcome.text)
    return outcome


def at(server: FakeElasticsearch, path: str, *args: str) -> Outcome:
    return run("-H", server.host, "-p", str(server.port), "-u", path, *args)


def health_of(name: str) -> str:
    return f"/{name}/_cluster/health"


@pytest.mark.integration
def test_green_is_ok(elasticsearch):
    outcome = at(elasticsearch, health_of(GREEN), "--nodes", "3")
    assert outcome.state == 0, outcome.text
    assert outcome.summary == (
        "cluster elasticsearch_telegraf is green: 3 nodes (3 data), 15 active shards (100%), "
        "0 unassigned, 0 initializing, 0 relocating, 0 pending tasks"
    )
    assert "nodes=3;;3:;0 data_nodes=3;;;0 " in outcome.status_line
    assert "active_shards_percent=100%;;;0;100 task_max_waiting=0s;;;0" in outcome.status_line
    lines = at(elasticsearch, health_of(GREEN), "-vv").text.splitlines()
    assert (
        f"http://127.0.0.1:{elasticsearch.port}{health_of(GREEN)}: HTTP 200 OK, 476 bytes" in lines
    )
    assert "OK: 3 nodes" in lines


@pytest.mark.integration
def test_yellow_is_a_warning_and_thresholds_on_unassigned_shards(elasticsearch):
    outcome = at(elasticsearch, health_of(YELLOW))
    assert outcome.state == 1, outcome.text
    assert outcome.summary.startswith("cluster elasticsearch is yellow; 1 node (1 data), ")
    outcome = at(elasticsearch, health_of(YELLOW), "--critical-unassigned", "10")
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("30 unassigned shards > 10, cluster elasticsearch is yellow")
    assert "unassigned_shards=30;;10;0" in outcome.status_line


@pytest.mark.integration
def test_fewer_nodes_than_expected_is_critical(elasticsearch):
    outcome = at(elasticsearch, health_of(GREEN), "--nodes", "5", "--data-nodes", "4")
    assert outcome.state == 2, outcome.text
    assert outcome.summary.startswith("3 nodes < 5, 3 data nodes < 4; 3 nodes (3 data)")
    assert "nodes=3;;5:;0 data_nodes=3;;4:;0 " in outcome.status_line


@pytest.mark.integration
def test_es1_7_without_the_percentage(elasticsearch):
    outcome = at(elasticsearch, health_of("cluster_health_es1_7_yellow_single_node"))
    assert outcome.state == 1, outcome.text
    assert "5 active shards, 5 unassigned" in outcome.summary
    assert "active_shards_percent" not in outcome.status_line


@pytest.mark.integration
def test_credentials_are_sent_and_a_wrong_login_fails_authentication(elasticsearch, tmp_path):
    good = tmp_path / "es.cred"
    good.write_text(f"username = {USER}\npassword = {PASSWORD}\n")
    good.chmod(0o600)
    outcome = at(elasticsearch, f"/locked{health_of(GREEN)}", "--credentials", str(good))
    assert outcome.state == 0, outcome.text
    bad = tmp_path / "bad.cred"
    bad.write_text(f"username = {USER}\npassword = guess\n")
    bad.chmod(0o600)
    outcome = at(elasticsearch, f"/locked{health_of(GREEN)}", "--credentials", str(bad))
    assert outcome.state == 3, outcome.text
    assert outcome.summary == (
        f"authentication failed: 127.0.0.1 port {elasticsearch.port} answered HTTP 401 "
        f"Unauthorized (check the login in {bad})"
    )
    outcome = at(elasticsearch, f"/locked{health_of(GREEN)}")
    assert outcome.summary.endswith("the cluster health wants a login (--credentials FILE)")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("path", "state", "message"),
    [("/garbage/_cluster/health", 3, "/garbage/_cluster/health: not JSON, not Elasticsearch "
                                     "cluster health: '{\"cluster_name\": \"prod\""),
     ("/html/_cluster/health", 3, "an HTML page, not Elasticsearch cluster health"),
     ("/health_report_es8_7_green/_cluster/health", 3,
      "JSON that is not cluster health (no status and number_of_nodes)"),
     ("/nothing/_cluster/health", 3, "answered HTTP 404 Not Found: no cluster health there"),
     ("/failing/_cluster/health", 2, "answered HTTP 503 Service Unavailable instead of the "
                                     "cluster health")],
)  # fmt: skip
def test_what_is_not_cluster_health(elasticsearch, path, state, message):
    outcome = at(elasticsearch, path)
    assert outcome.state == state, outcome.text
    assert message in outcome.summary
    assert outcome.text.count("\n") == 1


@pytest.mark.integration
def test_tls_is_verified_against_the_ca_file(elasticsearch_tls):
    secured, path = elasticsearch_tls, health_of(GREEN)
    port = str(secured.valid.port)
    outcome = run("-H", "127.0.0.1", "-p", port, "-S", "--ca-file", str(secured.ca_file),
                  "-u", path)  # fmt: skip
    assert outcome.state == 0, outcome.text
    outcome = run("-H", "127.0.0.1", "-p", port, "-S", "-u", path)
    assert outcome.state == 2, outcome.text
    assert outcome.summary == (
        f"127.0.0.1 port {port}: SSL certificate OpenSSL verify result: unable to get local "
        "issuer certificate (20)"
    )
    assert run("-H", "127.0.0.1", "-p", port, "-S", "--insecure", "-u", path).state == 0
    expired = str(secured.expired.port)
    outcome = run("-H", "127.0.0.1", "-p", expired, "-S", "--ca-file", str(secured.ca_file),
                  "-u", path)  # fmt: skip
    assert outcome.state == 2, outcome.text
    assert outcome.summary.endswith("verify result: certificate has expired (10)")


@pytest.mark.parametrize("failure", HTTP_FAILURES)
def test_a_failing_server_is_critical(failure):
    failure(run)


@pytest.mark.integration
def test_the_service_stopped_midway_is_critical():
    server = FakeElasticsearch(shared_fixtures() / "elasticsearch")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    outcome = critical_once_stopped(lambda: at(server, health_of(GREEN)), stop)
    assert outcome.summary == f"127.0.0.1 port {server.port}: connection refused"


@pytest.mark.integration
def test_the_installed_executable_keeps_the_contract(elasticsearch):
    done = run_installed("elasticsearch", "-H", "127.0.0.1", "-p", str(elasticsearch.port),
                         "-u", health_of(GREEN))  # fmt: skip
    assert done.returncode == 0, done.stdout


STATUS_HOSTS = """
object Host "web1.example.org" {
  check_command = "dummy"
  address = "192.0.2.7"
  vars.vigie_apache_status = "/status?auto"
  vars.vigie_tomcat_status = true
  vars.vigie_tomcat_credentials = "/etc/icinga2/secrets/tomcat.cred"
}
object Host "es1.example.org" {
  check_command = "dummy"
  address = "192.0.2.8"
  vars.vigie_elasticsearch_status = "https://es1.example.org:9200/_cluster/health"
  vars.vigie_elasticsearch_nodes = 3
}
"""


@pytest.mark.integration
def test_icinga_applies_the_status_page_services_where_hosts_ask(tmp_path):
    """vigie-apache, vigie-tomcat, vigie-elasticsearch: a path or URL, or true."""
    services = applied_services(tmp_path, STATUS_HOSTS)
    assert set(services) >= {"web1.example.org!vigie-apache", "web1.example.org!vigie-tomcat",
                             "es1.example.org!vigie-elasticsearch"}  # fmt: skip
    assert not {"es1.example.org!vigie-apache", "web1.example.org!vigie-elasticsearch"} & set(
        services
    )
    apache = services["web1.example.org!vigie-apache"]
    assert (apache["check_command"], apache["vars"]["vigie_apache_url"]) == (
        "vigie-apache", "/status?auto",
    )  # fmt: skip
    assert "vigie_tomcat_url" not in services["web1.example.org!vigie-tomcat"]["vars"]
    elasticsearch = services["es1.example.org!vigie-elasticsearch"]["vars"]
    assert (
        elasticsearch["vigie_elasticsearch_url"] == "https://es1.example.org:9200/_cluster/health"
    )
