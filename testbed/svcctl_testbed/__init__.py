"""svcctl's test bench: simulated macOS hosts and the demo, a package apart from svcctl.

`pip install 'svcctl[testbed]'` brings what it needs beyond svcctl (psutil); svcctl
imports it only in the `svcctl testbed` and `svcctl demo` commands (.importlinter).
See DESIGN.md beside this file. `emulator/` runs inside the host on the system
interpreter and imports nothing outside itself; the modules here run on the real
machine and start, provision and stop hosts; `demo/` tells the story on them.
"""
