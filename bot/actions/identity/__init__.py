"""Identity self-service: password reset and account unlock, verified by a one-time code."""
