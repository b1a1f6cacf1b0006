"""turnout serve: run code nodes over HTTP (docs/service.md)."""
