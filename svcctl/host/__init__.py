"""One Host interface, two transports: local (subprocess) and SSH (paramiko).

Importing this package defers `invoke` until it is used. paramiko imports it at once
(paramiko.config: `import invoke`) for one thing only, an ssh_config `Match exec` line,
and importing it costs more than the rest of paramiko: invoke.context imports unittest.mock,
which imports asyncio and ssl. So `invoke` stands in sys.modules as a placeholder that
imports the real module the first time any of its attributes is read (paramiko reads
`invoke.run` when a `Match exec` line is evaluated), and from then on answers for it.
paramiko behaves as before: a `Match exec` runs through the real invoke, and when invoke is
not installed no placeholder is made, so paramiko reports its absence as it always did.
`importlib.util.LazyLoader` cannot do this: the import statement reads `__spec__`, which
makes a lazy module load at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_LOAD = threading.Lock()  # audit resolves ssh_config in one thread per host


class _Deferred(ModuleType):
    """A module's stand-in: reading a missing attribute imports the real module."""

    def __getattr__(self, attr: str) -> Any:
        real = self.__dict__.get("_real")
        if real is None:
            with _LOAD:
                real = self.__dict__.get("_real")
                if real is None:
                    if sys.modules.get(self.__name__) is self:
                        del sys.modules[self.__name__]
                    real = importlib.import_module(self.__name__)
                    self._real = real
        return getattr(real, attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    placeholder = _Deferred(name)
    placeholder.__spec__ = spec
    sys.modules[name] = placeholder


_defer("invoke")
