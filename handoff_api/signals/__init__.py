"""Wake-ups between the parts of the service, never data: whoever is woken reads the database.

- `local`: a session that wrote a handoff event wakes this worker's event streams when it commits.
- `publisher`: after the commit, tells the other workers by PostgreSQL NOTIFY.
- `listener`: hears the other workers' notifications (LISTEN) and wakes this worker's streams and outbox."""
