"""`site`: the testbed (default) or, with `-m macos` and SVCCTL_MAC_* set, a real Mac."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deploy.release_kit import Shipped
from tests.service_kit import SERVICE_PY, Service, Site, mac_site, testbed_site

TARGETS = ["testbed", pytest.param("macos", marks=pytest.mark.macos)]


@pytest.fixture(params=TARGETS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "macos":
        found = mac_site(tmp_path)
        if found is None:
            pytest.skip("real-Mac variant (marker macos): set SVCCTL_MAC_SSH_CONFIG and "
                        "SVCCTL_MAC_HOST to run it against a Mac (see tests/service_kit.py)")
        yield found
        return
    yield testbed_site(request.getfixturevalue("hosts"), tmp_path)


@pytest.fixture
def testbed(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    """Testbed only: scenarios that need root on the host (a stray started with sudo)."""
    return testbed_site(request.getfixturevalue("hosts"), tmp_path)


def _make(site: Site, tmp_path: Path, prefix: str, hosts: list[str] | None) -> Service:
    svc = Service(site, f"{prefix}{time.time_ns() % 10**9}", tmp_path,
                  hosts or [site.main])
    for h in [site.main, *([site.other] if site.other else [])]:
        site.put(h, svc.script, SERVICE_PY)
    svc.write_inventory()
    return svc


@pytest.fixture
def service(site: Site, tmp_path: Path) -> Iterator[Service]:
    svc = _make(site, tmp_path, "dep", None)
    yield svc
    svc.cleanup()


@pytest.fixture
def make_service(site: Site, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []

    def make(prefix: str = "dep", hosts: list[str] | None = None) -> Service:
        sub = tmp_path / f"s{len(made)}"
        sub.mkdir()
        made.append(_make(site, sub, prefix, hosts))
        return made[-1]

    yield make
    for svc in made:
        svc.cleanup()


@pytest.fixture
def shipped(testbed: Site, tmp_path: Path) -> Iterator[Shipped]:
    """A release service on the testbed's main host (tests/deploy/release_kit.py)."""
    s = Shipped(testbed, tmp_path, Service(testbed, f"rel{time.time_ns() % 10**9}", tmp_path,
                                           [testbed.main]))
    yield s
    s.cleanup()
