"""What every part of the service stands on: settings, the database engine and sessions, the clock,
tokens and keys, logging, domain errors, shared field types, migrations. Imports nothing of the service."""
