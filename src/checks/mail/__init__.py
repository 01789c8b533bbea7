"""Checks of mail servers: Postfix and Qmail, their SMTP service and queues."""
