"""Moved to tests/service_kit.py, the tests' one harness; this name is kept only for
tests/deploy/conftest.py's import until that file imports from there (issue 12)."""

from tests.service_kit import SERVICE_PY, Service, Site, mac_site, testbed_site

__all__ = ["SERVICE_PY", "Service", "Site", "mac_site", "testbed_site"]
