"""Rendering launchctl output (FACTS 3). Pure functions over jobs and plain values."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

from .jobs import Domain, Job, decode_status
from .plists import JobSpec
from .spawn import DEFAULT_PATH

# macOS strsignal(3) texts, keyed by name: Linux numbers differ for some signals.
_SIGNAL_TEXT = {
    "SIGHUP": "Hangup",
    "SIGINT": "Interrupt",
    "SIGQUIT": "Quit",
    "SIGILL": "Illegal instruction",
    "SIGTRAP": "Trace/BPT trap",
    "SIGABRT": "Abort trap",
    "SIGFPE": "Floating point exception",
    "SIGKILL": "Killed",
    "SIGBUS": "Bus error",
    "SIGSEGV": "Segmentation fault",
    "SIGSYS": "Bad system call",
    "SIGPIPE": "Broken pipe",
    "SIGALRM": "Alarm clock",
    "SIGTERM": "Terminated",
    "SIGURG": "Urgent I/O condition",
    "SIGSTOP": "Suspended (signal)",
    "SIGTSTP": "Suspended",
    "SIGCONT": "Continued",
    "SIGCHLD": "Child exited",
    "SIGTTIN": "Stopped (tty input)",
    "SIGTTOU": "Stopped (tty output)",
    "SIGIO": "I/O possible",
    "SIGXCPU": "Cputime limit exceeded",
    "SIGXFSZ": "Filesize limit exceeded",
    "SIGVTALRM": "Virtual timer expired",
    "SIGPROF": "Profiling timer expired",
    "SIGWINCH": "Window size changes",
    "SIGUSR1": "User defined signal 1",
    "SIGUSR2": "User defined signal 2",
}


def signal_text(signo: int) -> str:
    """`Terminated: 15` (FACTS 3.3 `last terminating signal`)."""
    try:
        name = signal.Signals(signo).name
    except ValueError:
        return f"Unknown signal: {signo}"
    return f"{_SIGNAL_TEXT.get(name, name)}: {signo}"


def render_list(jobs: Iterable[Job]) -> str:
    """`launchctl list`: header plus PID, decoded status, label, real tabs (FACTS 3.1)."""
    lines = ["PID\tStatus\tLabel"]
    for job in sorted(jobs, key=lambda j: j.label):
        pid = str(job.pid) if job.pid is not None else "-"
        status = decode_status(job.last_status) if job.last_status is not None else 0
        lines.append(f"{pid}\t{status}\t{job.label}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return f'"{value}"'


def render_list_label(job: Job) -> str:
    """`launchctl list <label>`: NeXT-style dict, RAW LastExitStatus, PID only while
    running (FACTS 3.2)."""
    spec = job.spec
    lines = ["{", f"\t\"LimitLoadToSessionType\" = {_quote(job.domain.session_type)};"]
    lines.append(f"\t\"Label\" = {_quote(spec.label)};")
    lines.append(f"\t\"OnDemand\" = {'false' if spec.keep_alive.always else 'true'};")
    lines.append(f"\t\"LastExitStatus\" = {job.last_status or 0};")
    if job.pid is not None:
        lines.append(f"\t\"PID\" = {job.pid};")
    if spec.program is not None:
        lines.append(f"\t\"Program\" = {_quote(spec.program)};")
    if spec.program is None or spec.arguments != (spec.program,):
        lines.append('\t"ProgramArguments" = (')
        lines.extend(f"\t\t{_quote(arg)};" for arg in spec.arguments)
        lines.append("\t);")
    if spec.stdout_path is not None:
        lines.append(f"\t\"StandardOutPath\" = {_quote(spec.stdout_path)};")
    if spec.stderr_path is not None:
        lines.append(f"\t\"StandardErrorPath\" = {_quote(spec.stderr_path)};")
    lines.append("};")
    return "\n".join(lines) + "\n"


def domain_label(domain: Domain) -> str:
    """`domain = gui/501 [100007]` / `user/501` / `system` (FACTS 3.3)."""
    if domain.kind == "gui":
        return f"{domain.name} [{domain.asid}]"
    return domain.name


def _properties(job: Job) -> str:
    spec = job.spec
    props = []
    if spec.keep_alive.is_set:
        props.append("keepalive")
    if spec.run_at_load:
        props.append("runatload")
    if spec.program is None:
        props.append("inferred program")
    if spec.abandon_process_group:
        props.append("abandon process group")
    return " | ".join(props)


def _state_lines(job: Job) -> list[str]:
    return [
        f"\tactive count = {1 if job.pid is not None else 0}",
        f"\tpath = {job.spec.path}",
        f"\ttype = {job.domain.job_type}",
        f"\tstate = {job.state}",
        "",
    ]


def _program_lines(spec: JobSpec) -> list[str]:
    out = [f"\tprogram = {spec.executable}", "\targuments = {"]
    out.extend(f"\t\t{arg}" for arg in spec.arguments)
    out += ["\t}", ""]
    if spec.working_directory is not None:
        out += [f"\tworking directory = {spec.working_directory}", ""]
    if spec.stdout_path is not None:
        out.append(f"\tstdout path = {spec.stdout_path}")
    if spec.stderr_path is not None:
        out.append(f"\tstderr path = {spec.stderr_path}")
    return out


def _environment_lines(spec: JobSpec) -> list[str]:
    # XPC_SERVICE_NAME is always in the job's environment (FACTS 3.4)
    env = dict(spec.environment)
    env["XPC_SERVICE_NAME"] = spec.label
    out = ["\tdefault environment = {", f"\t\tPATH => {DEFAULT_PATH}", "\t}", ""]
    out.append("\tenvironment = {")
    out.extend(f"\t\t{key} => {value}" for key, value in env.items())
    out += ["\t}", ""]
    return out


def _identity_lines(dom: Domain, username: str | None, group: str | None) -> list[str]:
    out = [f"\tdomain = {domain_label(dom)}"]
    if dom.asid is not None:
        out.append(f"\tasid = {dom.asid}")
    if username is not None:
        out.append(f"\tusername = {username}")
    if group is not None:
        out.append(f"\tgroup = {group}")
    return out


def _last_exit_line(raw: int | None) -> str:
    """`last exit code` as decoded by list, or the signal's text (FACTS 3.3)."""
    if raw is None:
        return "\tlast exit code = (never exited)"
    if os.WIFSIGNALED(raw):
        return f"\tlast terminating signal = {signal_text(os.WTERMSIG(raw))}"
    return f"\tlast exit code = {decode_status(raw)}"


def _run_lines(job: Job) -> list[str]:
    out = [f"\truns = {job.runs}"]
    if job.pid is not None:
        out.append(f"\tpid = {job.pid}")
        out.append(f"\timmediate reason = {job.immediate_reason or 'speculative'}")
    if job.successive_crashes:
        out.append(f"\tsuccessive crashes = {job.successive_crashes}")
    out += [_last_exit_line(job.last_status), ""]
    return out


def _spawn_lines(job: Job) -> list[str]:
    out = ["\tspawn type = daemon (3)"]
    if job.runs:
        out.append(f"\tjob state = {'running' if job.pid is not None else 'exited'}")
    out.append("")
    props = _properties(job)
    out.append(f"\tproperties = {props}" if props else "\tproperties =")
    return out


def render_service(
    job: Job, minimum_runtime: int, exit_timeout: int, username: str | None, group: str | None
) -> str:
    """`launchctl print <service-target>`: one-tab `key = value` lines (FACTS 3.3)."""
    out = [f"{job.domain.name}/{job.spec.label} = {{"]
    out += _state_lines(job)
    out += _program_lines(job.spec)
    out += _environment_lines(job.spec)
    out += _identity_lines(job.domain, username, group)
    out.append(f"\tminimum runtime = {minimum_runtime}")
    out.append(f"\texit timeout = {exit_timeout}")
    out += _run_lines(job)
    out += _spawn_lines(job)
    out.append("}")
    return "\n".join(out) + "\n"


def render_disabled(entries: dict[str, bool], style: str, indent: str = "\t") -> str:
    """The `disabled services` block; Ventura+ `=> enabled/disabled` (FACTS 2.6)."""
    if style == "legacy":
        indent = ""
    lines = [f"{indent}disabled services = {{"]
    for label in sorted(entries):
        if style == "legacy":
            word = "true" if entries[label] else "false"
        else:
            word = "disabled" if entries[label] else "enabled"
        lines.append(f'{indent}\t"{label}" => {word}')
    lines.append(f"{indent}}}")
    return "\n".join(lines) + "\n"


def render_domain(domain: Domain, disabled: dict[str, bool], style: str) -> str:
    """`launchctl print <domain-target>` with `services` and `disabled services` (FACTS 2.7)."""
    jobs = sorted(domain.jobs.values(), key=lambda j: j.label)
    active = sum(1 for j in jobs if j.pid is not None)
    kind = {"system": "system", "user": "user", "gui": "login"}[domain.kind]
    out = [f"{domain.name} = {{", f"\ttype = {kind}", f"\thandle = {domain.uid}"]
    if domain.asid is not None:
        out.append(f"\tasid = {domain.asid}")
    out.append(f"\tactive count = {active}")
    out.append(f"\tservice count = {len(jobs)}")
    out.append(f"\tactive service count = {active}")
    out.append("\tcreator = launchd[1]")
    out.append("")
    out.append("\tservices = {")
    for job in jobs:
        pid = str(job.pid) if job.pid is not None else "0"
        status = str(decode_status(job.last_status)) if job.last_status is not None else "-"
        out.append(f"\t\t{pid:>8} {status:>6} \t{job.label}")
    out.append("\t}")
    out.append("")
    block = render_disabled(disabled, "ventura" if style != "legacy" else "legacy", "\t")
    if style == "legacy":
        block = "".join("\t" + line + "\n" for line in block.splitlines())
    out.append(block.rstrip("\n"))
    out.append("}")
    return "\n".join(out) + "\n"
