"""Tests of the checks of checks/web."""
