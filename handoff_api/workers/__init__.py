"""The background loops each worker runs (`loops`) and the database lease that makes one worker at a time
run a singleton loop (`lease`)."""
