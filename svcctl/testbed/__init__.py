"""Simulated macOS hosts: a launchd emulator as PID 1 in its own namespaces, with sshd.

See DESIGN.md beside this file. `emulator/` runs inside the host on the system
interpreter and imports nothing from the rest of svcctl; the modules here run on
the real machine and start, provision and stop hosts.
"""
