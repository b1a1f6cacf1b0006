"""turnout serve: run code nodes over HTTP (docs/serve.md)."""
