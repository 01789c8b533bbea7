"""vigie beside the C monitoring-plugins, on the same targets: the same states."""
