"""One customer's data: everything the desk stores about a conversation, exported or erased."""
