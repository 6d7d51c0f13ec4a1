"""Identity self-service for the bot: find an account, verify the customer, then act for them.

- `directory`: the `Directory` protocol, `DirectoryUser` and the built-in `DemoDirectory`;
  `ldap_directory`: `LdapDirectory` (ldap3).
- `codes`: one-time codes (hashed at rest), masked destinations, signed reset links.
- `verification`: start a verification, check a code, unlock, send a reset link.
"""
