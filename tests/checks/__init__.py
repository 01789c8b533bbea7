"""Tests of the checks, laid out as src/checks: <group>/test_<check>.py."""
