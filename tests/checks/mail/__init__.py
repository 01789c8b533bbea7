"""Tests of the checks of checks/mail."""
