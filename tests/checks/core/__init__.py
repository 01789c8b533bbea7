"""Tests of checks/core, the plumbing every check shares."""
