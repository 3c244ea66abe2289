"""A failed test's report shows the simulated hosts that are down, and why.

A test that loses its host mid-way fails on whatever it asked next ("unreachable",
"connection refused"), far from the cause, which only the host's own logs tell: CI once
failed so with nothing to go on, and it took a stress loop to find launchd's log saying
"SIGTERM: stopping every job". Each failed test now gets a "testbed hosts" section
naming every host of this process's testbeds that is down or whose sshd is silent, with
the tail of its logs (svcctl_testbed.control.Testbed.postmortem); nothing when all are up.
tests/conftest.py loads this hook; tests/testbed/test_postmortem.py runs it.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from svcctl_testbed.control import Testbed, made_testbeds


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        lines = [line for tb in made_testbeds() for line in _postmortem(tb)]
        if lines:
            report.sections.append((f"testbed hosts ({call.when})", "\n".join(lines)))
    return report


def _postmortem(tb: Testbed) -> list[str]:
    try:
        return tb.postmortem()
    except Exception as exc:  # a report must come out, whatever the testbed's state
        return [f"testbed {tb.layout.root}: cannot tell its hosts' state: {exc!r}"]
