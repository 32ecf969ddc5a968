"""How any untrusted process is started and bounded: `command` (the one description of a sandboxed
process, `SandboxSpec`, its command line and its environment), `bwrap` (bubblewrap's options and
file-system operations), `enforce` (rlimits, uids, cgroups, the watchdog), `seccomp` (the system
calls no sandboxed process may make), `kernels` (launching a sandboxed Jupyter kernel, spares),
`factory/` (the warm kernel factory that forks kernels into the same sandbox, from the same
description). Limits are enforced by the OS here; their values come from `grader.rubric.limits`.
"""
