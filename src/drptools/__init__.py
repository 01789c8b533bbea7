"""vigie backup and disaster-recovery tools, the ``drp`` command."""
