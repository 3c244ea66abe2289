"""Job programs used by the emulator tests: real programs, no mocks."""

from __future__ import annotations

PYTHON = "/usr/bin/python3"
SLEEP = ["/bin/sleep", "300"]
# Ignores SIGTERM: only SIGKILL (ExitTimeOut escalation) ends it.
TERM_IGNORER = [
    PYTHON, "-c",
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)",
]


def exits_with(code: int) -> list[str]:
    return ["/bin/sh", "-c", f"exit {code}"]


def traps_term(marker: str) -> list[str]:
    """Writes `marker` on SIGTERM and exits 0."""
    return [
        PYTHON, "-c",
        "import signal, sys, time\n"
        "def bye(*_):\n"
        f"    open({marker!r}, 'a').write('term\\n')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "time.sleep(300)",
    ]


def records_signal(marker: str, signame: str) -> list[str]:
    """Appends the signal name to `marker` each time `signame` arrives."""
    return [
        PYTHON, "-c",
        "import signal, time\n"
        f"def note(*_): open({marker!r}, 'a').write({signame!r} + '\\n')\n"
        f"signal.signal(signal.{signame}, note)\n"
        "while True: time.sleep(1)",
    ]
