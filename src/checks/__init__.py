"""vigie check plugins: one executable per check, all built on :mod:`checks.core`.

The version lives here (not in package metadata) so that ``-V`` costs no
``importlib.metadata`` lookup at every invocation.
"""

__version__ = "0.1.0"
