"""The procedures of drp: ordered steps that do one job on the targets, the actions' engines.

An action (:mod:`drptools.actions`) reads the command line and chooses; a procedure does:
:mod:`~drptools.procedures.backup_files` (a hard-link snapshot),
:mod:`~drptools.procedures.backup_db` (a dump set streamed to every target),
:mod:`~drptools.procedures.prune` (retention, also after each backup).
"""
