"""Reading Pacemaker's ``crm_mon`` XML, in both its layouts, and ``cibadmin`` constraints.

Pure functions of the text the tools printed (no I/O). ``crm_mon --output-as=xml``
(Pacemaker 2.0.3 and later) prints a ``<pacemaker-result>`` whose ``<status code>`` says
whether it could read the cluster; the older ``crm_mon --as-xml`` prints ``<crm_mon
version=…>``, empty when it could not. The layout is told by the root element, not by the
option given. Between the two the nodes, resources, failures and bans read alike; role
names changed in Pacemaker 2.1 (Master/Slave became Promoted/Unpromoted) and are read
as the new ones whichever the cluster prints.
"""

from __future__ import annotations

from checks.core.errors import CannotCheck, ParseError
from checks.core.xml import Element, child_text, parse_xml

#: Pacemaker < 2.1 role names, and what they are called since.
ROLES = {"Master": "Promoted", "Slave": "Unpromoted"}
#: The ``score`` Pacemaker prints for INFINITY in fail counts and bans.
INFINITY = 1000000
#: Prefixes of the location constraints ``crm_resource --move``/``--ban`` (and pcs, crmsh)
#: create, which stay until cleared.
MOVE_PREFIXES = ("cli-ban-", "cli-prefer-")


class NotRunning(CannotCheck):
    """crm_mon could not reach the cluster on this node (pacemaker is not running)."""


def _flag(element: Element, name: str) -> bool:
    return element.get(name) == "true"


class Node:
    """A cluster node and its state flags as crm_mon prints them."""

    __slots__ = (
        "guest",
        "is_dc",
        "maintenance",
        "name",
        "online",
        "pending",
        "shutdown",
        "standby",
        "standby_onfail",
        "type",
        "unclean",
    )

    def __init__(self, element: Element) -> None:
        self.name = element.get("name", "")
        self.type = element.get("type", "member")
        #: a guest node (a bundle replica, a VM resource): its resource is judged instead
        self.guest = element.get("id_as_resource") is not None
        self.online = _flag(element, "online")
        self.standby = _flag(element, "standby")
        self.standby_onfail = _flag(element, "standby_onfail")
        self.maintenance = _flag(element, "maintenance")
        self.pending = _flag(element, "pending")
        self.unclean = _flag(element, "unclean")
        self.shutdown = _flag(element, "shutdown")
        self.is_dc = _flag(element, "is_dc")

    def __repr__(self) -> str:
        return f"Node({self.name!r}, online={self.online})"


class Resource:
    """One resource instance: a primitive, alone or within a group, clone or bundle.

    ``parents`` are the ids of what contains it, outermost first (``mysql-clone-group``,
    ``mysql-group:2``); ``role`` uses the new role names; ``nodes`` where it is active.
    """

    __slots__ = (
        "active",
        "agent",
        "blocked",
        "cloned",
        "disabled",
        "failed",
        "failure_ignored",
        "id",
        "maintenance",
        "managed",
        "nodes",
        "orphaned",
        "parents",
        "role",
        "target_role",
    )

    def __init__(
        self, element: Element, parents: tuple[str, ...], disabled: bool, cloned: bool
    ) -> None:
        self.id = element.get("id", "")
        self.agent = element.get("resource_agent", "")
        role = element.get("role", "")
        self.role = ROLES.get(role, role)
        target = element.get("target_role", "")
        self.target_role = ROLES.get(target.capitalize(), target.capitalize())
        self.active = _flag(element, "active")
        self.orphaned = _flag(element, "orphaned")
        self.blocked = _flag(element, "blocked")
        self.managed = element.get("managed", "true") != "false"
        self.maintenance = _flag(element, "maintenance")
        self.failed = _flag(element, "failed")
        self.failure_ignored = _flag(element, "failure_ignored")
        self.nodes = [node.get("name", "") for node in element.findall("node")]
        self.parents = parents
        #: an instance of a clone: how many instances run is judged on the clone
        self.cloned = cloned
        #: stopped on purpose: target-role Stopped on it or on what contains it
        self.disabled = disabled or self.target_role == "Stopped"

    @property
    def label(self) -> str:
        """Its id, with what contains it: ``mysql-proxy in mysql-clone-group/mysql-group:2``."""
        return f"{self.id} in {'/'.join(self.parents)}" if self.parents else self.id

    @property
    def where(self) -> str:
        """``on node1``, ``on node1, node2``, or ``""`` when it runs nowhere."""
        return f"on {', '.join(self.nodes)}" if self.nodes else ""

    def __repr__(self) -> str:
        return f"Resource({self.id!r}, {self.role!r}, {self.nodes})"


class Collection:
    """A clone or a bundle: its instances are judged together (how many run, promoted)."""

    __slots__ = ("disabled", "id", "instances", "kind", "promotable")

    def __init__(self, kind: str, identifier: str, promotable: bool, disabled: bool) -> None:
        self.kind, self.id, self.promotable, self.disabled = kind, identifier, promotable, disabled
        self.instances: list[Resource] = []

    @property
    def running(self) -> list[Resource]:
        """Instances active somewhere."""
        return [instance for instance in self.instances if instance.active]


class Failure:
    """A failed resource action (what ``Failed Resource Actions`` lists)."""

    __slots__ = ("exitcode", "exitreason", "exitstatus", "node", "op_key", "task")

    def __init__(self, element: Element) -> None:
        self.op_key = element.get("op_key", "")
        self.node = element.get("node", "")
        self.task = element.get("task", "")
        self.exitstatus = element.get("exitstatus", "")
        self.exitcode = element.get("exitcode", "")
        self.exitreason = element.get("exitreason", "")

    def __str__(self) -> str:
        reason = f": {self.exitreason}" if self.exitreason else ""
        return f"{self.op_key} on {self.node} {self.exitstatus} ({self.exitcode}){reason}"


class Constraint:
    """A location constraint pinning a resource to a node or banning it from one."""

    __slots__ = ("id", "node", "resource", "score")

    def __init__(self, identifier: str, resource: str, node: str, score: str) -> None:
        self.id, self.resource, self.node, self.score = identifier, resource, node, score

    @property
    def left_by_move(self) -> bool:
        """Made by ``crm_resource --move/--ban`` (pcs/crm resource move): to be cleared."""
        return self.id.startswith(MOVE_PREFIXES)

    def __str__(self) -> str:
        banned = self.score.startswith("-")
        how = "banned from" if banned else "pinned to"
        return f"{self.id} ({self.resource} {how} {self.node or 'a node'})"


class Cluster:
    """What crm_mon says about the cluster, seen from this node."""

    def __init__(self, layout: str, version: str) -> None:
        self.layout, self.version = layout, version
        self.stack = ""
        self.dc = ""
        self.dc_present = False
        self.quorum = False
        self.maintenance_mode = False
        self.stop_all = False
        self.nodes_configured = 0
        self.nodes: list[Node] = []
        self.resources: list[Resource] = []
        self.collections: list[Collection] = []
        self.failures: list[Failure] = []
        #: (resource, node) -> fail count (INFINITY is 1000000)
        self.fail_counts: dict[tuple[str, str], int] = {}
        self.bans: list[Constraint] = []


def parse_crm_mon(text: str) -> Cluster:
    """The cluster of a ``crm_mon`` XML answer, either layout.

    Raises :class:`NotRunning` when crm_mon says it could not connect to the cluster,
    :class:`CannotCheck` with crm_mon's own words for other refusals, and
    :class:`ParseError` when the text is not crm_mon's XML.
    """
    root = parse_xml(text, "crm_mon")
    if root.tag == "pacemaker-result":
        _refusal(root)
        cluster = Cluster("pacemaker-result", root.get("api-version", ""))
    elif root.tag == "crm_mon":
        cluster = Cluster("crm_mon", root.get("version", ""))
    else:
        raise ParseError(f"crm_mon printed <{root.tag}>, not <pacemaker-result> or <crm_mon>")
    summary = root.find("summary")
    if summary is None:
        errors = [child_text(error, ".") for error in root.iter("error")]
        said = f": {'; '.join(filter(None, errors))}" if any(errors) else ""
        if cluster.layout == "crm_mon" and not len(root):
            raise NotRunning("crm_mon --as-xml printed no cluster status (is pacemaker running?)")
        raise CannotCheck(f"crm_mon printed no cluster summary{said}")
    _summary(cluster, summary)
    cluster.nodes = [Node(element) for element in root.findall("nodes/node")]
    if not cluster.nodes or not all(node.name for node in cluster.nodes):
        raise ParseError("crm_mon printed no nodes, or a node without a name")
    resources = root.find("resources")
    if resources is not None:
        _resources(cluster, resources, (), False, None)
    cluster.failures = [Failure(element) for element in root.findall("failures/failure")]
    _fail_counts(cluster, root)
    cluster.bans = [
        Constraint(ban.get("id", ""), ban.get("resource", ""), ban.get("node", ""),
                   ban.get("weight", "-"))
        for ban in root.findall("bans/ban")
    ]  # fmt: skip
    return cluster


def _refusal(root: Element) -> None:
    status = root.find("status")
    if status is None:
        raise ParseError("crm_mon printed a <pacemaker-result> without <status>")
    code = status.get("code", "")
    if code == "0":
        return
    errors = [child_text(error, ".") for error in status.iter("error")]
    said = "; ".join(filter(None, errors)) or status.get("message", "") or "no reason given"
    if code in ("102", "105"):  # CRM_EX_UNAVAILABLE, CRM_EX_DISCONNECT: no cluster here
        raise NotRunning(f"crm_mon cannot reach the cluster: {said}")
    raise CannotCheck(f"crm_mon failed (status {code} {status.get('message', '')}): {said}")


def _summary(cluster: Cluster, summary: Element) -> None:
    stack = summary.find("stack")
    cluster.stack = stack.get("type", "") if stack is not None else ""
    dc = summary.find("current_dc")
    if dc is not None:
        cluster.dc_present = _flag(dc, "present")
        cluster.dc = dc.get("name", "")
        cluster.quorum = _flag(dc, "with_quorum")
    options = summary.find("cluster_options")
    if options is not None:
        cluster.maintenance_mode = _flag(options, "maintenance-mode")
        cluster.stop_all = _flag(options, "stop-all-resources")
    configured = summary.find("nodes_configured")
    number = configured.get("number", "") if configured is not None else ""
    cluster.nodes_configured = int(number) if number.isascii() and number.isdigit() else 0


def _resources(
    cluster: Cluster,
    container: Element,
    parents: tuple[str, ...],
    disabled: bool,
    collection: Collection | None,
) -> None:
    for element in container:
        identifier = element.get("id", "")
        if element.tag == "resource":
            if not identifier:
                raise ParseError("crm_mon printed a resource without an id")
            cloned = collection is not None and collection.kind == "clone"
            resource = Resource(element, parents, disabled, cloned)
            cluster.resources.append(resource)
            if collection is not None:
                collection.instances.append(resource)
            continue
        if element.tag not in ("clone", "group", "bundle", "replica"):
            continue
        off = disabled or _flag(element, "disabled") or element.get("target_role", "") in (
            "stopped", "Stopped")  # fmt: skip
        inner = collection
        if element.tag in ("clone", "bundle"):
            promotable = _flag(element, "multi_state") or _flag(element, "promotable")
            inner = Collection(element.tag, identifier, promotable, off)
            cluster.collections.append(inner)
        label = f"replica {identifier}" if element.tag == "replica" else identifier
        _resources(cluster, element, (*parents, label), off, inner)


def _fail_counts(cluster: Cluster, root: Element) -> None:
    for node in root.findall("node_history/node"):
        for history in node.findall("resource_history"):
            count = history.get("fail-count")
            if count is None:
                continue
            if not (count.isascii() and count.isdigit()):
                raise ParseError(f"crm_mon: fail-count {count[:20]!r} is not a number")
            key = (history.get("id", ""), node.get("name", ""))
            cluster.fail_counts[key] = max(int(count), cluster.fail_counts.get(key, 0))


def parse_constraints(text: str) -> list[Constraint]:
    """The location constraints of ``cibadmin -Q -o constraints`` (``<constraints>``)."""
    root = parse_xml(text, "cibadmin -Q -o constraints")
    if root.tag != "constraints":
        raise ParseError(f"cibadmin -Q -o constraints printed <{root.tag}>, not <constraints>")
    found = []
    for location in root.iter("rsc_location"):
        identifier = location.get("id", "")
        if not identifier:
            raise ParseError("cibadmin: a location constraint without an id")
        resource = location.get("rsc", "") or location.get("rsc-pattern", "")
        found.append(
            Constraint(identifier, resource, location.get("node", ""), location.get("score", ""))
        )
    return found
