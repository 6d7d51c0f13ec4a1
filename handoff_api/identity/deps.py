"""Request dependencies: the configured directory and mailer, one of each per app.

Made on first use and kept on `app.state` (tests may put their own there first).
"""

from typing import Annotated

from fastapi import Depends, Request

from handoff_api.api.deps import get_settings
from handoff_api.identity.directory import Directory, make_directory
from handoff_api.identity.mail import Mailer, make_mailer


def get_directory(request: Request) -> Directory:
    state = request.app.state
    if getattr(state, "identity_directory", None) is None:
        state.identity_directory = make_directory(get_settings(request))
    directory: Directory = state.identity_directory
    return directory


def get_mailer(request: Request) -> Mailer:
    state = request.app.state
    if getattr(state, "identity_mailer", None) is None:
        state.identity_mailer = make_mailer(get_settings(request))
    mailer: Mailer = state.identity_mailer
    return mailer


DirectoryDep = Annotated[Directory, Depends(get_directory)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
