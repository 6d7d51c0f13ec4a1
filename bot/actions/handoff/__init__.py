"""Handing the customer to an engineer, and what follows: follow-up mail, issue details, ticket status."""
