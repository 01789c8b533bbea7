"""Tests of the checks of checks/reach."""
