"""Rules for the text customers type, shared by the bot's actions (Python 3.10) and the service (3.11).

Standard library only, so that it installs into both environments: `redaction` masks secrets,
`storable` keeps or refuses what a database cannot store.
"""
