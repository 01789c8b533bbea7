"""One module per ``drp`` action; :mod:`drptools.cli` only parses arguments and dispatches."""
