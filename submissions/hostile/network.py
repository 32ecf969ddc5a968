# grader: exercise=conv-dims
"""Hostile: tries the network: a server on the grader's own loopback, and the internet.

Port 47613 is where tests/test_hostile.py listens; the sandbox has its own, empty network.
"""

# %%
import socket
import urllib.request

conv_params = 80
attempts = {}
try:
    socket.create_connection(("127.0.0.1", 47613), timeout=3).sendall(b"stolen rubric\n")
    attempts["loopback"] = "connected"
except OSError as exc:
    attempts["loopback"] = f"{type(exc).__name__}: {exc}"
try:
    urllib.request.urlopen("http://example.com/", timeout=3).read(100)
    attempts["internet"] = "connected"
except OSError as exc:
    attempts["internet"] = f"{type(exc).__name__}: {exc}"
attempts["interfaces"] = [name for _, name in socket.if_nameindex()]
print(attempts)
