"""Checks of replicated storage and clusters: DRBD, Ceph, GlusterFS, Pacemaker/Heartbeat."""
