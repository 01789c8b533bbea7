"""Reachability checks: ICMP ping and the SSH service."""
