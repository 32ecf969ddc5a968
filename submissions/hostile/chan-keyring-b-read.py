# grader: exercise=conv-dims
# old (before the seccomp filter and fresh uids): found the key chan-keyring-a-write left in the shared uid's keyring and printed the other student's secret; expected: keyctl is denied or finds nothing, "NOTHING" printed, the secret nowhere in this report
"""Adversarial (a channel between students): read what another kernel left in the user keyring.

Polls for 20 s, so it finds the key whether the writer ran before it or beside it.
"""

# %%
import ctypes
import os
import platform
import time

NUMBERS = {"x86_64": (248, 250), "aarch64": (217, 219)}
ADD_KEY, KEYCTL = NUMBERS.get(platform.machine(), (248, 250))
KEYCTL_SEARCH, KEYCTL_READ = 10, 11
libc = ctypes.CDLL(None, use_errno=True)
found = None
deadline = time.monotonic() + 20
while found is None and time.monotonic() < deadline:
    for ring in (-4, -5):
        serial = libc.syscall(KEYCTL, KEYCTL_SEARCH, ring, b"user", b"grader-channel", 0)
        if serial >= 0:
            buffer = ctypes.create_string_buffer(256)
            size = libc.syscall(KEYCTL, KEYCTL_READ, serial, buffer, 256)
            found = buffer.raw[: max(size, 0)]
    time.sleep(0.5)
print("FOUND", found) if found else print("NOTHING", os.strerror(ctypes.get_errno()))

conv_params = 0
