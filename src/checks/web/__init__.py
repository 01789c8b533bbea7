"""Checks of web services: URLs, and the status of Apache, Nginx, Tomcat, Varnish, Elasticsearch."""
