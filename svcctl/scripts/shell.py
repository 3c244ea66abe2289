"""What a remote shell's exit status says about the host: pure assessment, which lives in
`svcctl.assess.exits` (below this layer, so the audit's assessment reads it too).

Re-exported here for the callers that still import it from svcctl.scripts.
"""

from __future__ import annotations

from svcctl.assess.exits import NotAMac, ShellExit, not_a_mac

__all__ = ["NotAMac", "ShellExit", "not_a_mac"]
