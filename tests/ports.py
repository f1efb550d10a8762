"""Free TCP ports on 127.0.0.1 for the servers tests start (sshd, PostgreSQL).

A port is found by binding port 0 and closing the socket, so another process
may take it before the server binds it. Under pytest-xdist the test processes
would race each other for the same ports; each one therefore keeps to its own
residue class (port modulo the number of test processes), so two of them never
pick the same port. Within one process tests run one at a time.
"""

from __future__ import annotations

import os
import socket

#: tries before giving up on a port of this process's class (each try is a bind)
MAX_TRIES = 1000


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
    for _ in range(MAX_TRIES):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port % count == index:
            return port
    raise RuntimeError(f"no free port of class {index} mod {count} after {MAX_TRIES} tries")
