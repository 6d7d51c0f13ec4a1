"""Users and their tokens: creating them (`service`) and who a bearer token belongs to (`token_cache`)."""
