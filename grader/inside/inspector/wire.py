"""The inspector's wire: length-prefixed JSON messages over a Unix socket, file descriptors beside them.

A request carries its files as descriptors (`SCM_RIGHTS`), so the sandboxed inspector never opens
a grader-side path; replies are bounded in size. What is sent is always one of the messages in
`grader.inside.inspector.schema`; what is received is a JSON object, which the receiver validates
against the message it expects.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from pydantic import BaseModel

MIB = 1024 * 1024
FRAME_HEADER = 8
MAX_REPLY_BYTES = 256 * MIB
MAX_FDS = 4


def send(sock: socket.socket, message: BaseModel, fds: list[int], deadline: float) -> None:
    payload = _encode(message)
    frame = len(payload).to_bytes(FRAME_HEADER, "big") + payload
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    sent = socket.send_fds(sock, [frame], fds) if fds else sock.send(frame)
    if sent < len(frame):
        sock.sendall(frame[sent:])


def receive(sock: socket.socket, deadline: float, fds: list[int] | None = None) -> dict[str, Any]:
    header = read_exactly(sock, FRAME_HEADER, deadline, fds)
    size = int.from_bytes(header, "big")
    if size > MAX_REPLY_BYTES:
        raise ValueError(f"a message of {size} bytes, over the limit")
    message = json.loads(read_exactly(sock, size, deadline))
    if not isinstance(message, dict):
        raise ValueError("a message that is not a JSON object")
    return message


def read_exactly(sock: socket.socket, size: int, deadline: float, fds: list[int] | None = None) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise TimeoutError
        sock.settimeout(timeout)
        if fds is not None and not chunks:
            data, received, _, _ = socket.recv_fds(sock, remaining, MAX_FDS)
            fds.extend(received)
        else:
            data = sock.recv(min(remaining, 1 << 20))
        if not data:
            raise ConnectionError("the inspector closed the connection")
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def reply(sock: socket.socket, message: BaseModel) -> None:
    payload = _encode(message)
    sock.sendall(len(payload).to_bytes(FRAME_HEADER, "big") + payload)


def _encode(message: BaseModel) -> bytes:
    return json.dumps(message.model_dump(mode="json")).encode()
