# grader: exercise=conv-dims
# old (ca38eb9): graded as uid 1000: the grader's whole environment, GRADER_CANARY included, printed in the report
"""Adversarial (leak): the grader's environment, read from the sandbox's first process.

bubblewrap's own first process inside the sandbox (pid 1) keeps the environment it was started
with. When the grader runs as an ordinary user, the kernel (same uid) may read /proc/1/environ:
this prints every variable found there into the report.
"""

# %%
conv_params = 80
conv_height = 100

# %%
try:
    with open("/proc/1/environ", "rb") as handle:
        found = handle.read().split(b"\0")
    print("PID1", [entry.decode(errors="replace") for entry in found if entry])
except OSError as exc:
    print("PID1 DENIED", type(exc).__name__)
