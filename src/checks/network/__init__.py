"""Checks of the network: interfaces, routes, and the server's addresses on DNS blocklists."""
