"""Rasa imports the connectors with bot/ as its working directory; the tests import them the same way."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "bot", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
