"""Operations (issue 5): request ids, rate limits, Prometheus metrics, daily reports, the audit log."""
