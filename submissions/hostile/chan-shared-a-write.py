# grader: exercise=conv-dims
# old (never observed: each kernel already had its own /tmp and /dev/shm and an IPC namespace; kept as a regression sample): leave a secret in every shared place a kernel can write (/tmp, /dev/shm, /var/tmp, $HOME, a SysV message queue); expected: chan-shared-b-read finds none of them
"""Adversarial (a channel between students): files in the usual shared folders, and a SysV message queue."""

# %%
import ctypes
import os

secret = "channel-secret-" + "9e03aa"
for folder in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"), os.getcwd() + "/.."):
    try:
        with open(os.path.join(folder, "grader-channel"), "w") as handle:
            handle.write(secret)
        print("wrote", folder)
    except OSError as exc:
        print("could not write", folder, type(exc).__name__)

libc = ctypes.CDLL(None, use_errno=True)
queue = libc.msgget(0x6772, 0o1666)  # IPC_CREAT | 0666


class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 64)]


sent = libc.msgsnd(queue, ctypes.byref(Message(1, secret.encode())), 64, 0o4000) if queue >= 0 else -1
print("msgsnd", queue, sent)

conv_params = 0
