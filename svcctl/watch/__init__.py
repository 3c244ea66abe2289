"""`svcctl watch` (issue 14): what changed between two audits (`state`, pure) and the
Prometheus families (`metrics`). The loop that probes and the CLI live in svcctl.ops.watch
and svcctl.cli.watch."""
