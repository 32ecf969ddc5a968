"""How any untrusted process is started and bounded: `bwrap` (the bubblewrap command line),
`kernels` (launching a sandboxed Jupyter kernel, spares), `factory/` (the warm kernel factory that
forks kernels into the same sandbox). Limits are enforced by the OS here; their values come from
`grader.rubric.limits`.
"""
