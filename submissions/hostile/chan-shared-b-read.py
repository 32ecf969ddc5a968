# grader: exercise=conv-dims
# old (never observed: each kernel already had its own /tmp and /dev/shm and an IPC namespace; kept as a regression sample): look for what chan-shared-a-write left; expected: "NOTHING", the secret nowhere in this report
"""Adversarial (a channel between students): read the shared folders and the SysV queue, polling 20 s."""

# %%
import ctypes
import os
import time


class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 64)]


libc = ctypes.CDLL(None, use_errno=True)
found = []
deadline = time.monotonic() + 20
while not found and time.monotonic() < deadline:
    for folder in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"), os.getcwd() + "/.."):
        try:
            with open(os.path.join(folder, "grader-channel")) as handle:
                found.append(handle.read())
        except OSError:
            pass
    queue = libc.msgget(0x6772, 0o666)
    message = Message()
    if queue >= 0 and libc.msgrcv(queue, ctypes.byref(message), 64, 0, 0o4000) >= 0:  # IPC_NOWAIT
        found.append(message.mtext.decode())
    time.sleep(0.5)
print("FOUND", found) if found else print("NOTHING")

conv_params = 0
