"""launchd emulator: PID 1 of a simulated macOS host (stdlib only).

Runs under the bare system interpreter inside the testbed namespace:
``python3 -E -s -m emulator --root /run/testbed``. Behaviour follows
``shared/launchd/FACTS.md``; comments cite its sections.
"""
