"""`svcctl demo`: the March 29 incident and its repair, on simulated hosts, narrated.

`script.py` runs shell commands exactly as a user would type them and checks each
one's exit code and output; the runbook tests reuse it, so the runbooks cannot rot.
"""
