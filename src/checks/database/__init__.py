"""Checks of database servers: MariaDB/MySQL and PostgreSQL status and replication."""
