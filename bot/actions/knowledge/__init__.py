"""Answers from the knowledge base and guided setup from an article's steps."""
