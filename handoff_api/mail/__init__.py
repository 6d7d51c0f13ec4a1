"""How the service sends mail: the `Mailer` protocol, SMTP and the dev mailbox (`sender`)."""
