"""PURE process knowledge: the `ps` probe and parser, instance matching, classification.

See `svcctl.procs.matching` for the instance/decoy rule and `svcctl.procs.classify` for
managed vs stray and the verdicts.
"""

from svcctl.procs.classify import (
    classify_service,
    detect_respawn,
    find_instances,
    is_crashlooping,
    is_known_running,
)
from svcctl.procs.matching import (
    INLINE,
    Match,
    Matcher,
    executable_family,
    identity_paths,
    match_process,
    matcher_for,
    release_of,
    script_operand,
)
from svcctl.procs.ps import (
    PS_FIELDS,
    Probe,
    cwd_names,
    parse_probe,
    parse_ps,
    ps_argv,
)

__all__ = [
    "INLINE",
    "PS_FIELDS",
    "Match",
    "Matcher",
    "Probe",
    "classify_service",
    "cwd_names",
    "detect_respawn",
    "executable_family",
    "find_instances",
    "identity_paths",
    "is_crashlooping",
    "is_known_running",
    "match_process",
    "matcher_for",
    "parse_probe",
    "parse_ps",
    "ps_argv",
    "release_of",
    "script_operand",
]
