"""Chunk descriptors: what a worker needs to find its slice, never the data itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputFile:
    """A discovered input and its fingerprint (checked again on resume)."""

    path: str
    format: str  # csv | parquet | arrow
    size: int
    mtime_ns: int
    sample_hash: str  # hash of a bounded sample of the content (head, middle, tail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "sample_hash": self.sample_hash,
        }


@dataclass(frozen=True)
class ChunkDescriptor:
    """One chunk's slice of one input.

    kind ``parquet``: ``start``/``stop`` are the file's global row range;
    ``row_groups`` are the groups that cover it (several small groups merged,
    or one large group of which the chunk takes a part), so a worker reads
    only those groups and slices the range out of them.
    kind ``csv``: ``start``/``stop`` are byte offsets aligned to record starts;
    ``header`` is the raw header line, parsed together with the slice.
    kind ``arrow``: Arrow IPC file, ``start``/``stop`` are record batch indexes.
    kind ``sequence``: no data; ``start`` is the index.
    kind ``shuffle``: a reduce chunk; ``path`` is the shuffle manifest,
    ``start``/``stop`` the partition range, ``row_groups`` ``(sub, subs)`` when
    one partition is split (``shuffle/runtime.py``).
    """

    seq: int  # part number within the job: part-{seq:05d}
    kind: str
    path: str | None
    start: int
    stop: int
    est_rows: int
    row_groups: tuple[int, ...] = ()
    header: str | None = None
    phase: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "path": self.path,
            "start": self.start,
            "stop": self.stop,
            "est_rows": self.est_rows,
            "row_groups": list(self.row_groups),
            "header": self.header,
            "phase": self.phase,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkDescriptor:
        return cls(
            seq=int(data["seq"]),
            kind=str(data["kind"]),
            path=data.get("path"),
            start=int(data["start"]),
            stop=int(data["stop"]),
            est_rows=int(data.get("est_rows", 0)),
            row_groups=tuple(data.get("row_groups") or ()),
            header=data.get("header"),
            phase=int(data.get("phase", 0)),
        )

    def describe(self) -> str:
        """Where this chunk's rows are, for error messages and status."""
        if self.kind == "csv":
            return f"{self.path} bytes {self.start}-{self.stop}"
        if self.kind == "parquet":
            groups = ",".join(str(g) for g in self.row_groups)
            return f"{self.path} row groups [{groups}] rows {self.start}-{self.stop}"
        if self.kind == "arrow":
            return f"{self.path} batches {self.start}-{self.stop}"
        if self.kind == "shuffle":
            sub = f" sub {self.row_groups[0]}/{self.row_groups[1]}" if self.row_groups else ""
            return f"shuffle partitions {self.start}-{self.stop - 1}{sub} of {self.path}"
        return f"item {self.start}"
