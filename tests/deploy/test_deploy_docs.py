"""docs/deploy.md names every setting the service reads, so an operator finds each one there."""

import re
from pathlib import Path

from handoff_api.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_of_the_service_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs/deploy.md").read_text()))
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented == set(), "add these to docs/deploy.md"
