"""Reachability checks: ICMP ping, and the SSH and FTP services."""
