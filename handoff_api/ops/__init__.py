"""Operations: the audit log (`audit`), the daily report (`reports`), Prometheus metrics (`metrics`)."""
