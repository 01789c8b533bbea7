"""Tests of the checks of checks/storage."""
