"""The real stack (tests/harness/stack.py) with as many L2 agents as the run needs, and the run's size.

Sizes: the default run is small (`make test-load`: 20 customers, 4 agents, 30 s); `HELPDESK_LOAD_FULL=1`
(set by `.ci/run`) runs the issue's size, 200 customers and 20 agents for 150 s. Each figure can be set
on its own: `HELPDESK_LOAD_CUSTOMERS`, `HELPDESK_LOAD_AGENTS`, `HELPDESK_LOAD_SECONDS`,
`HELPDESK_LOAD_THINK` (mean seconds between a customer's turns, 4) and `HELPDESK_LOAD_TURNS_PER_SECOND`
(the pace of the bot's work, in turns a second; by default 1 / the time the bot takes to answer one
customer alone on this machine, measured just before the run, kept between 0.3 and 5: Rasa answers on
one core, so more only makes everybody wait, and a Rasa whose event loop is tens of seconds behind drops
its socket.io clients).
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff_api.core.config import Settings as ServiceSettings
from handoff_api.core.db import make_engine, make_session_factory, transaction
from handoff_api.users import service as users
from tests.harness.stack import ROOT, Stack, trained_model

from .simulation import Settings


def _number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


@pytest.fixture(scope="session")
def load_settings() -> Settings:
    full = os.environ.get("HELPDESK_LOAD_FULL", "") in ("1", "true", "yes")
    return Settings(
        customers=int(_number("HELPDESK_LOAD_CUSTOMERS", 200 if full else 20)),
        agents=int(_number("HELPDESK_LOAD_AGENTS", 20 if full else 4)),
        seconds=_number("HELPDESK_LOAD_SECONDS", 150 if full else 30),
        turns_per_second=_number("HELPDESK_LOAD_TURNS_PER_SECOND", 0),  # 0: measured (test_load.py)
        think=_number("HELPDESK_LOAD_THINK", 4),
    )


def create_agents(stack: Stack, names: list[str], role: str = "l2") -> None:
    """Many users in one transaction (the CLI takes seconds each), in the stack's own database."""
    settings = ServiceSettings(
        helpdesk_data_dir=stack.data_dir,
        database_url=f"sqlite:///{stack.data_dir / 'helpdesk.db'}",
        helpdesk_secret_key=None,
    )
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for name in names:
                _user, token = users.create(session, settings.secret_key(), name, role)
                stack.tokens[name] = token
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def stack(load_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = Path(os.environ.get("HELPDESK_DATA_DIR", ROOT / "var"))
    started = time.monotonic()
    running = Stack(data_dir=tmp_path_factory.mktemp("load-stack"), model=trained_model(data_dir / "models"))
    try:
        running.start()
        running.create_user("lena", "lead")
        create_agents(running, [f"agent{i:02d}" for i in range(1, load_settings.agents + 1)])
    except BaseException:
        running.stop()
        raise
    print(f"\nstack ready in {time.monotonic() - started:.1f} s")
    yield running
    running.stop()
