# grader: exercise=conv-dims
# old (ca38eb9): graded as uid 1000: GRADER_CANARY (from /proc/1/environ) printed in the report
"""Adversarial (leak): every /proc/*/environ (and each thread's) the kernel can read, searched for secrets.

Prints each variable, from any process visible in the sandbox, whose value the kernel's own
environment does not hold: the grader's secrets, if any leaked into the sandbox.
"""

# %%
import glob
import os

conv_params = 80
conv_height = 100
mine = {f"{k}={v}" for k, v in os.environ.items()}
leaked, denied = set(), 0
for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/task/[0-9]*/environ"):
    try:
        with open(path, "rb") as handle:
            entries = handle.read().decode(errors="replace").split("\0")
    except OSError:
        denied += 1
        continue
    leaked.update(f"{path.split('/')[2]}:{entry}" for entry in entries if entry and entry not in mine)
print("LEAKED", sorted(leaked))
print("DENIED", denied)
