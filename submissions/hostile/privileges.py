# grader: exercise=conv-dims
"""Hostile: looks for privileges: root, capabilities, setuid, writable system folders."""

# %%
import os
import resource

conv_params = 80
print("UID", os.getuid(), os.geteuid())
with open("/proc/self/status") as status:
    print(*[line.strip() for line in status if line.startswith("Cap")])
print("NPROC", resource.getrlimit(resource.RLIMIT_NPROC)[0], "FSIZE", resource.getrlimit(resource.RLIMIT_FSIZE)[0])
for attempt in (lambda: os.setuid(0), lambda: open("/usr/grader-owned", "w"), lambda: os.chroot("/")):
    try:
        attempt()
        print("ALLOWED")
    except OSError as exc:
        print("DENIED", type(exc).__name__)
conv_height = 100
