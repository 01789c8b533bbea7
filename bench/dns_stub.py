"""A stub DNS blocklist server on loopback, for check_dnsbl's bench cases.

It lists every address (A 127.0.0.2, a TXT reason) in every zone, so any number of zones
can be asked. Run apart: dnspython in a bench process would count in every child's peak
RSS (a forked child's RSS before exec is its parent's).
"""

from __future__ import annotations

import atexit
import subprocess
import sys

#: The server; it prints its port, then answers until it is stopped.
DNSBL_SERVER = """
import socket, dns.message, dns.rrset
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
while True:
    wire, client = sock.recvfrom(512)
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    kind, value = ("TXT", '"listed by the bench"') if question.rdtype == 16 else ("A", "127.0.0.2")
    response.answer.append(dns.rrset.from_text(question.name, 60, "IN", kind, value))
    sock.sendto(response.to_wire(), client)
"""


def dnsbl_server() -> str:
    """Start the stub blocklist server (stopped when the bench exits); returns its port."""
    server = subprocess.Popen(
        [sys.executable, "-c", DNSBL_SERVER], stdout=subprocess.PIPE, text=True
    )
    atexit.register(server.terminate)
    assert server.stdout is not None
    return server.stdout.readline().strip()
