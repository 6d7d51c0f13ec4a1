import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.stack import ROOT, Stack, trained_model


@pytest.fixture(scope="session")
def model() -> Path:
    data_dir = Path(os.environ.get("HELPDESK_DATA_DIR", ROOT / "var"))
    return trained_model(data_dir / "models")


@pytest.fixture(scope="module")
def stack(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    started = time.monotonic()
    running = Stack(data_dir=tmp_path_factory.mktemp("stack"), model=model)
    running.start()
    print(f"\nstack ready in {time.monotonic() - started:.1f} s")
    yield running
    running.stop()
