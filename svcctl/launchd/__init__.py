"""PURE launchctl knowledge: argv builders, output parsers, failure causes, batching.

Nothing in this package runs a process. Every parser takes text and returns model data,
raising only `ParseError` (STYLE habit 2). launchd quirks cite their section of FACTS.md.
"""

from svcctl.launchd.argv import (
    bootout_argv,
    bootstrap_argv,
    disable_argv,
    enable_argv,
    kickstart_argv,
    kill_argv,
    list_argv,
    print_argv,
    print_disabled_argv,
)
from svcctl.launchd.batch import Batch, BatchResult, build_batch, split_batch
from svcctl.launchd.failures import GONE_CODES, LaunchctlOutcome, classify_launchctl_error
from svcctl.launchd.listing import decode_wait_status, parse_list, parse_list_label, parse_next_dict
from svcctl.launchd.printout import (
    parse_print,
    parse_print_disabled,
    parse_print_domain,
    parse_service_line,
)

__all__ = [
    "GONE_CODES",
    "Batch",
    "BatchResult",
    "LaunchctlOutcome",
    "bootout_argv",
    "bootstrap_argv",
    "build_batch",
    "classify_launchctl_error",
    "decode_wait_status",
    "disable_argv",
    "enable_argv",
    "kickstart_argv",
    "kill_argv",
    "list_argv",
    "parse_list",
    "parse_list_label",
    "parse_next_dict",
    "parse_print",
    "parse_print_disabled",
    "parse_print_domain",
    "parse_service_line",
    "print_argv",
    "print_disabled_argv",
    "split_batch",
]
