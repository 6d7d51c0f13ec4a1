"""The help-desk service as the bot sees it: its bot API and knowledge-base search."""
