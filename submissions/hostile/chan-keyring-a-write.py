# grader: exercise=conv-dims
# old (before the seccomp filter and fresh uids): a kernel could add a key to its uid's user keyring, and the next kernel of the same worker (the same uid) read it: a channel between students; expected: add_key is denied (EPERM), chan-keyring-b-read finds nothing, the secret is in no other student's report
"""Adversarial (a channel between students): leave a secret in the Linux user keyring for the next kernel.

Keyrings are per uid, not per mount or PID namespace, so bubblewrap's namespaces do not separate
them. This kernel adds `grader-channel` with a secret to its user keyring and its user session
keyring, and prints what the kernel answered. chan-keyring-b-read.py looks for it.
Expected: the syscall is refused; the secret appears only in this sample's own report, if at all.
"""

# %%
import ctypes
import os
import platform

NUMBERS = {"x86_64": (248, 250), "aarch64": (217, 219)}
ADD_KEY, KEYCTL = NUMBERS.get(platform.machine(), (248, 250))
libc = ctypes.CDLL(None, use_errno=True)
secret = b"channel-secret-" + b"41d7c2"
for ring in (-4, -5):  # KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING
    serial = libc.syscall(ADD_KEY, b"user", b"grader-channel", secret, len(secret), ring)
    print("add_key", ring, serial, os.strerror(ctypes.get_errno()) if serial < 0 else "ok")

conv_params = 0
