"""Tests of the checks of checks/system."""
