"""Tests of the checks of checks/network."""
