"""What customers tell the desk back and hear from it after the chat: satisfaction ratings, ticket status,
e-mail follow-ups (`followups` mails the engineers' replies)."""
