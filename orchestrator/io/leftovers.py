"""What an attempt cut off from its coordinator leaves for the next coordinator.

A worker whose coordinator vanishes (SIGKILL, OOM kill, a lost SSH link)
while it computes a part finishes that chunk instead of dropping the work,
and leaves two small files next to the part in the job's staging directory:

- at once, an orphan marker (``part-00042.attempt-3.orphan.json``: its pid,
  host and process start time), which says "this chunk is being finished";
- when the part is written, a receipt (``part-00042.attempt-3.receipt.json``:
  the result it could not send), written after the part's atomic rename, so a
  receipt always names a complete part file.

The next coordinator that leases the chunk adopts the receipt's part,
committing it under its own, current fencing token (a stale token can never
commit, so exactly-once holds), or, seeing a live orphan, waits for it rather
than computing the chunk a second time. Nothing is written on the normal
path; publish ignores both files and removes them with the staging area.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORPHAN_SUFFIX = ".orphan.json"
RECEIPT_SUFFIX = ".receipt.json"
_TOKEN = re.compile(r"\.attempt-(\d+)\.(?:orphan|receipt)\.json$")


def orphan_path(staging_dir: str, part_name: str) -> str:
    return os.path.join(staging_dir, part_name + ORPHAN_SUFFIX)


def receipt_path(staging_dir: str, part_name: str) -> str:
    return os.path.join(staging_dir, part_name + RECEIPT_SUFFIX)


def write_json_atomic(path: str, doc: dict[str, Any]) -> None:
    """Write ``doc`` under ``path`` whole or not at all (temp file, fsync, rename)."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(doc, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; Linux), to tell it
    from a later process that got the same pid; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def orphan_doc(task: str, token: Any, chunk_id: Any) -> dict[str, Any]:
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "start_ticks": process_start_ticks(pid),
        "orphaned_at": time.time(),
        "task": task,
        "token": token,
        "chunk_id": chunk_id,
    }


def orphan_alive(doc: dict[str, Any], host: str | None = None) -> bool:
    """Whether the orphan described by ``doc`` still runs. Only a process on
    this host can be checked; anything else counts as gone (no waiting)."""
    if doc.get("host") != (host or socket.gethostname()):
        return False
    pid = doc.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    ticks = process_start_ticks(pid)
    if ticks is None:
        return False
    return doc.get("start_ticks") in (None, ticks)


@dataclass(frozen=True)
class Leftover:
    """The newest trace an earlier attempt of one chunk left in staging."""

    token: int
    #: the result the attempt could not send (part complete), or None
    receipt: dict[str, Any] | None
    #: the orphan marker of an attempt still (or no longer) being finished
    orphan: dict[str, Any] | None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def receipt_usable(receipt: dict[str, Any]) -> bool:
    """The receipt names a part that is there, with the size it reported."""
    part = receipt.get("part_file")
    if not receipt.get("ok") or not isinstance(part, str):
        return False
    try:
        return os.path.getsize(part) == int(receipt.get("bytes_out") or -1)
    except (OSError, ValueError):
        return False


def find_leftover(
    staging_dir: str | Path, seq: int, below_token: int, chunk_id: int
) -> Leftover | None:
    """The newest usable receipt of chunk ``seq`` (store id ``chunk_id``) from
    a token below ``below_token``, else its newest orphan marker; None when
    neither exists. Traces of another chunk with the same seq (the job was
    planned again since: new chunk ids) never match."""
    directory = Path(staging_dir)
    receipts: list[tuple[int, dict[str, Any]]] = []
    orphans: list[tuple[int, dict[str, Any]]] = []
    try:
        candidates = list(directory.glob(f"part-{seq:05d}.attempt-*.json"))
    except OSError:
        return None
    for path in candidates:
        match = _TOKEN.search(path.name)
        if match is None or int(match.group(1)) >= below_token:
            continue
        doc = _read(path)
        if doc is None or doc.get("chunk_id") != chunk_id:
            continue
        token = int(match.group(1))
        if path.name.endswith(RECEIPT_SUFFIX):
            if receipt_usable(doc):
                receipts.append((token, doc))
        else:
            orphans.append((token, doc))
    if receipts:
        token, doc = max(receipts, key=lambda item: item[0])
        return Leftover(token, doc, None)
    if orphans:
        token, doc = max(orphans, key=lambda item: item[0])
        return Leftover(token, None, doc)
    return None
