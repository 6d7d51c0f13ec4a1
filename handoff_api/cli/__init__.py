"""`helpdesk`, the service's command line: one module per command group (`users`, `db`, `demo`, `kb`),
`app` the root; `chat` the terminal customer, `serving` the worker processes of `helpdesk serve`."""

from handoff_api.cli.app import app

__all__ = ["app"]
