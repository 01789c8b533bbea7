"""Checks of backups and disaster recovery: check_backup (what drp wrote, and when)."""
