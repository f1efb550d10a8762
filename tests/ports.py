"""Free TCP ports on 127.0.0.1 for the servers tests start (sshd, PostgreSQL).

A port is found by binding a candidate and closing the socket, so another
process may take it before the server binds it. Under pytest-xdist the test
processes would race each other for the same ports; each one therefore keeps
to its own residue class (port modulo the number of test processes), so two of
them never pick the same port. Within one process tests run one at a time.
Candidates are drawn at random from a range below Linux's ephemeral ports
(which outgoing connections take), not from ``bind(0)``: since Linux 4.6
``bind(0)`` hands out odd ports only, so the even class never got one.
"""

from __future__ import annotations

import os
import random
import socket

#: tries before giving up on a port of this process's class (each try is a bind)
MAX_TRIES = 1000
#: where candidates come from: below the default ephemeral range (32768-60999)
PORT_RANGE = (20000, 32000)


def _share() -> tuple[int, int]:
    """(this test process's index, how many test processes) under xdist; else (0, 1)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count <= 1:
        return 0, 1
    return int(worker[2:]) % count, count


def free_port() -> int:
    """A port nothing listens on now, and no other test process will pick."""
    index, count = _share()
    low, high = PORT_RANGE
    rng = random.SystemRandom()
    for _ in range(MAX_TRIES):
        port = rng.randrange(low + index, high, count)  # only this process's class
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use
        return port
    raise RuntimeError(f"no free port of class {index} mod {count} after {MAX_TRIES} tries")
