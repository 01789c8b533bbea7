"""vigie check plugins: one executable per check, all built on :mod:`checks.core`.

The version lives here (not in package metadata) so that ``-V`` costs no
``importlib.metadata`` lookup at every invocation. Importing this package loads
nagiosplugin lean (see :mod:`checks._nagiosplugin`): every check pays for every import.
"""

from checks import _nagiosplugin

__version__ = "0.1.0"

_nagiosplugin.install()
