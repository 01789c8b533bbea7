"""Checks of the local system: load, CPU, memory, swap, uptime, clock, processes."""
