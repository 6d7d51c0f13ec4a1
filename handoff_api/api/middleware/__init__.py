"""ASGI middleware: request ids and the access log, rate limits, the body size limit, SQLite's write gate."""
