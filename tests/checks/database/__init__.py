"""Tests of the checks of checks/database."""
