"""Rasa channel connectors of the help desk (listed in bot/credentials.yml)."""
