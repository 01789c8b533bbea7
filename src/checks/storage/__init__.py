"""Checks of disks and filesystems: SMART health, free space, inodes, quotas."""
