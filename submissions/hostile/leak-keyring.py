# grader: exercise=conv-dims
# old (07be392): in a batch on one worker, the third student's kernel read the key the first student's left (same uid, slots 0 and 1 alternating)
"""Adversarial (leak): a channel between students through the kernel's keyrings.

Linux keyrings are not namespaced: a key added to the user keyring (@u) stays in a register per
uid after the kernel is gone, and a session keyring (@s) may be shared with the grader. Each copy
of this notebook first looks for a key an earlier student left, then leaves one for the next.
Graded as a class of three on one worker, the third kernel ran as the first one's uid.
"""

# %%
import ctypes
import errno
import platform

conv_params = 80
NUMBERS = {"x86_64": (248, 250), "aarch64": (217, 219)}
ADD_KEY, KEYCTL = NUMBERS.get(platform.machine(), (-1, -1))
KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING = 10, -4, -3
libc = ctypes.CDLL(None, use_errno=True)
for name, ring in (("user", KEY_SPEC_USER_KEYRING), ("session", KEY_SPEC_SESSION_KEYRING)):
    found = libc.syscall(ctypes.c_long(KEYCTL), KEYCTL_SEARCH, ring, b"user", b"answers-for-the-next", 0)
    print("FOUND" if found > 0 else "NOT FOUND", name)
    left = libc.syscall(ctypes.c_long(ADD_KEY), b"user", b"answers-for-the-next", b"80", 2, ring)
    print("LEFT" if left > 0 else f"REFUSED {errno.errorcode.get(ctypes.get_errno())}", name)
with open("/proc/keys") as keys:
    print("IN /proc/keys" if "answers-for-the-next" in keys.read() else "NOT IN /proc/keys")
conv_height = 100
