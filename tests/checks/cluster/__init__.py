"""Tests of the checks of checks/cluster."""
