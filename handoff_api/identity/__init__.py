"""Identity self-service for the bot: directory and mail adapters, one-time codes, ratings.

- `directory`: the `Directory` protocol, `DirectoryUser` and the built-in `DemoDirectory`;
  `ldap_directory`: `LdapDirectory` (ldap3).
- `mail`: the `Mailer` protocol, the dev mailbox (database) and `SmtpMailer`.
- `codes`: one-time codes (hashed at rest), masked destinations, signed reset links.
- `verification`: start a verification, check a code, unlock, send a reset link.
- `models`: the tables (verifications, self-service lockouts, dev mail, ratings, follow-ups).
"""
