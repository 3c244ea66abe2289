"""The `kit` fixture: real services on the testbed hosts (tests/service_kit.py)."""

from tests.service_kit import kit

__all__ = ["kit"]
