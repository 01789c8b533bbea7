"""The plumbing every check shares, and the only place for it.

:mod:`~checks.core.cli` parses arguments (errors become UNKNOWN, never argparse's exit 2),
:mod:`~checks.core.runtime` runs a check under its timeout and turns every failure into one
clear status line, :mod:`~checks.core.evaluate` judges metrics against
:mod:`~checks.core.ranges`, :mod:`~checks.core.output` writes what Nagios and Icinga read.
Nothing here imports a heavy library: a check pays only for what it uses.
"""
