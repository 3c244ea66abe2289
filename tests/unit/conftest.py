from __future__ import annotations

from pathlib import Path

import pytest

FACTS = Path(__file__).resolve().parents[1] / "data" / "facts"


@pytest.fixture
def facts() -> Path:
    return FACTS
