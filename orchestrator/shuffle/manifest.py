"""The reduce side of the shuffle: manifest, reduce ranges, bounded partition reads.

When every map chunk of a phase succeeded, the planner writes ONE manifest
(:func:`write_manifest`) listing the committed map attempt directories with
their per-partition sizes, and plans reduce chunks from it
(:func:`plan_reduce_ranges`). A reduce chunk's descriptor names the manifest
and a partition range, so it stays a few bytes however many map chunks and
partitions there are.

Sizing (the user may tune every constant here, and only here):

- partitions are cut small enough for a worker: :data:`PARTITION_TARGET_BYTES`
  of Arrow data per reduce chunk; adjacent small partitions are coalesced up
  to it;
- a partition above :data:`max_partition_bytes` (the worker's memory budget
  divided by :data:`REDUCE_MEMORY_FACTOR`) is split into sub-partitions by a
  second use of the same key hash, so every key still stays whole;
- a (sub-)partition that is still too big holds a key too frequent to split:
  :func:`read_partition` stops reading as soon as it passes the limit and
  raises :class:`PartitionTooLarge` naming the key and its row count, never
  taking the worker past its budget silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from orchestrator.errors import ProcessorError
from orchestrator.io.parts import write_bytes_atomic
from orchestrator.shuffle.keys import key_table, row_hashes, sub_partition_ids
from orchestrator.shuffle.spill import MapOutput, shuffle_dir

MiB = 1024 * 1024
#: Arrow bytes a reduce chunk aims at (coalescing target; split size).
PARTITION_TARGET_BYTES = 128 * MiB
#: A worker's memory budget when the job sets none.
WORKER_MEMORY_BUDGET = 1024 * MiB
#: A reduce step holds its partition plus working memory (normalized keys,
#: hash tables, sorted copies): estimated at 3x the partition, 4 for margin.
REDUCE_MEMORY_FACTOR = 4
#: Map-side partition count is chosen this many times finer than the estimate
#: needs, so the reduce planner can even out skew and cut ranges of one size
#: (2 left 9 partitions for 2 ranges: 4 + 5, a worker idle a tenth of the phase).
OVERPARTITION = 4
MAX_PARTITIONS = 4096
#: A reduce partition up to this size is handed over as one contiguous table.
COMBINE_MAX_BYTES = 1024 * MiB
#: Arrow bytes per input byte, by input format (Parquet is compressed and encoded).
INPUT_EXPANSION: dict[str, float] = {"parquet": 4.0, "csv": 1.0, "arrow": 1.0}


class PartitionTooLarge(ProcessorError):
    """A reduce partition does not fit the worker's memory budget and cannot be split."""


def max_partition_bytes(memory_budget: int = WORKER_MEMORY_BUDGET) -> int:
    return max(1, memory_budget // REDUCE_MEMORY_FACTOR)


def choose_partitions(
    input_bytes: int,
    target_bytes: int = PARTITION_TARGET_BYTES,
    *,
    max_partitions: int = MAX_PARTITIONS,
) -> int:
    """Map-side partition count for ``input_bytes`` of estimated Arrow data."""
    wanted = math.ceil(OVERPARTITION * max(0, input_bytes) / max(1, target_bytes))
    return max(1, min(max_partitions, wanted))


@dataclass(frozen=True)
class Manifest:
    """Every committed map output of one shuffle, in map chunk order."""

    keys: tuple[str, ...]
    normalize: tuple[str, ...]
    partitions: int
    maps: tuple[MapOutput, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys),
            "normalize": list(self.normalize),
            "partitions": self.partitions,
            "maps": [m.to_dict() for m in self.maps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            keys=tuple(data["keys"]),
            normalize=tuple(data.get("normalize") or ()),
            partitions=int(data["partitions"]),
            maps=tuple(MapOutput.from_dict(m) for m in data["maps"]),
        )

    def partition_sizes(self) -> list[tuple[int, int]]:
        """(rows, Arrow bytes) of each partition, over every map output."""
        sizes = [[0, 0] for _ in range(self.partitions)]
        for m in self.maps:
            for p in m.pieces:
                sizes[p.partition][0] += p.rows
                sizes[p.partition][1] += p.nbytes
        return [(r, b) for r, b in sizes]


def build_manifest(
    keys: Sequence[str], normalize: Sequence[str], partitions: int, maps: Sequence[MapOutput]
) -> Manifest:
    """Check that the map outputs belong to one shuffle; raises ValueError if not."""
    for m in maps:
        if m.partitions != partitions:
            raise ValueError(
                f"{m.directory}: {m.partitions} partitions, the shuffle has {partitions}"
            )
    hash_ids = {m.hash_id for m in maps}
    if len(hash_ids) > 1:
        raise ValueError(
            "map outputs were hashed by different versions ("
            + ", ".join(sorted(hash_ids))
            + "): every host of an installation must run the same polars"
        )
    return Manifest(tuple(keys), tuple(normalize), partitions, tuple(maps))


def write_manifest(staging_dir: str, first_seq: int, manifest: Manifest) -> str:
    """Write ``shuffle/manifest-{first_seq:05d}.json`` atomically; its path.

    Named by the first chunk seq of the reduce phase it feeds: unique in the
    job even when a hybrid job has several shuffles.

    Written when the reduce phase is planned, under the settlement claim; a
    planner that crashed and plans again writes the same bytes (map outputs
    in map chunk order), so rewriting is harmless.
    """
    data = json.dumps(manifest.to_dict(), separators=(",", ":")).encode()
    return write_bytes_atomic(shuffle_dir(staging_dir), f"manifest-{first_seq:05d}.json", data)


def read_manifest(path: str) -> Manifest:
    with open(path, "rb") as f:
        return Manifest.from_dict(json.load(f))


@dataclass(frozen=True)
class ReduceRange:
    """What one reduce chunk reads: partitions ``[first, stop)``, or sub-partition
    ``sub`` of ``subs`` of the single partition ``first``."""

    first: int
    stop: int
    rows: int
    nbytes: int
    sub: int = 0
    subs: int = 1


def plan_reduce_ranges(
    manifest: Manifest,
    target_bytes: int = PARTITION_TARGET_BYTES,
    max_bytes: int | None = None,
) -> list[ReduceRange]:
    """Reduce chunks for ``manifest``: adjacent partitions coalesced into
    ranges of about ``target_bytes``, a partition over ``max_bytes`` split by
    sub-hash into pieces of about ``target_bytes``. Empty partitions need no chunk.

    Between two split partitions, the fewest ranges of at most ``target_bytes``
    are cut EVEN (:func:`_balanced`), not filled one after the other: 3 units of
    work for 2 workers as 2 + 1 leaves one worker idle for a third of the phase.
    """
    limit = max_partition_bytes() if max_bytes is None else max_bytes
    target = max(1, min(target_bytes, limit))
    ranges: list[ReduceRange] = []
    run: list[tuple[int, int, int]] = []  # (partition, rows, bytes) being coalesced
    for partition, (rows, nbytes) in enumerate(manifest.partition_sizes()):
        if rows == 0:
            continue  # coalescing across an empty partition is fine: it reads nothing
        if nbytes > limit:
            ranges += _balanced(run, target, limit)
            run = []
            subs = math.ceil(nbytes / target)
            for sub in range(subs):
                ranges.append(
                    ReduceRange(partition, partition + 1, rows // subs, nbytes // subs, sub, subs)
                )
            continue
        run.append((partition, rows, nbytes))
    return ranges + _balanced(run, target, limit)


def _balanced(run: list[tuple[int, int, int]], target: int, limit: int) -> list[ReduceRange]:
    """Adjacent partitions ``(partition, rows, bytes)`` cut into the fewest
    ranges of about ``target`` bytes, each of about the same size: a partition
    goes to the range its middle byte falls in. A range that would pass
    ``limit`` that way falls back to filling ranges up to ``target`` in order."""
    if not run:
        return []
    total = sum(b for _, _, b in run)
    count = max(1, math.ceil(total / target))
    groups: list[list[tuple[int, int, int]]] = [[] for _ in range(count)]
    before = 0
    for piece in run:
        groups[min(count - 1, int((before + piece[2] / 2) * count // max(1, total)))].append(piece)
        before += piece[2]
    groups = [g for g in groups if g]
    if any(sum(b for _, _, b in g) > limit for g in groups):
        groups = [[]]
        for piece in run:
            if groups[-1] and sum(b for _, _, b in groups[-1]) + piece[2] > target:
                groups.append([])
            groups[-1].append(piece)
    return [
        ReduceRange(g[0][0], g[-1][0] + 1, sum(r for _, r, _ in g), sum(b for _, _, b in g))
        for g in groups
    ]


def read_partition(
    manifest: Manifest,
    rng: ReduceRange,
    *,
    sort_by: Sequence[str] = (),
    max_bytes: int | None = None,
) -> pa.Table:
    """Every row of the range's partition(s), as one table, in input order
    (map chunk order, then row order), or sorted by ``sort_by`` (stable).

    Reads piece by piece and stops as soon as the rows held pass ``max_bytes``
    (default :func:`max_partition_bytes`): then :class:`PartitionTooLarge`
    names the most frequent key among the rows read and its count.
    """
    import pyarrow.compute as pc  # here, not at import: planning a phase needs none of it

    limit = max_partition_bytes() if max_bytes is None else max_bytes
    schema: pa.Schema | None = None
    pieces: list[pa.Table] = []
    held = 0
    for m in manifest.maps:
        wanted = [p for p in m.pieces if rng.first <= p.partition < rng.stop]
        if not wanted and schema is not None:
            continue
        with pa.OSFile(m.data_path, "rb") as source:
            reader = pa.ipc.open_file(source)
            schema = schema or reader.schema
            for p in wanted:
                batches = [reader.get_batch(i) for i in range(p.first_batch, p.stop_batch)]
                piece = pa.Table.from_batches(batches, schema=reader.schema)
                if rng.subs > 1:
                    keys = key_table(piece, manifest.keys, manifest.normalize)
                    subs = sub_partition_ids(row_hashes(keys), manifest.partitions, rng.subs)
                    piece = piece.filter(pc.equal(subs, rng.sub))
                pieces.append(piece)
                held += piece.nbytes
                if held > limit:
                    raise _too_large(manifest, rng, pieces, held, limit)
    if schema is None:
        return pa.table({})
    table = pa.concat_tables(pieces) if pieces else schema.empty_table()
    if table.nbytes <= COMBINE_MAX_BYTES:
        # one buffer per column instead of one per (map chunk, partition): DuckDB
        # scans and groups it about a tenth faster (1 GiB bound: string offsets)
        table = table.combine_chunks()
        pieces.clear()
    if sort_by:
        table = table.take(pc.sort_indices(table, sort_keys=[(c, "ascending") for c in sort_by]))
    return table


def _too_large(
    manifest: Manifest, rng: ReduceRange, pieces: list[pa.Table], held: int, limit: int
) -> PartitionTooLarge:
    import pyarrow.compute as pc

    keys = key_table(pa.concat_tables(pieces), manifest.keys, manifest.normalize)
    counts = keys.group_by(list(manifest.keys)).aggregate([([], "count_all")])
    top = counts.take(pc.sort_indices(counts, sort_keys=[("count_all", "descending")])[:1])
    row = top.to_pylist()[0]
    count = row.pop("count_all")
    key = ", ".join(f"{k}={v!r}" for k, v in row.items())
    where = f"partition {rng.first}" + (f" (sub {rng.sub}/{rng.subs})" if rng.subs > 1 else "")
    if rng.stop - rng.first > 1:
        where = f"partitions {rng.first}-{rng.stop - 1}"
    return PartitionTooLarge(
        f"shuffle {where} passed the reduce limit of {limit // MiB} MiB after "
        f"{held // MiB} MiB read; its most frequent key {key} has {count:,} rows so far "
        "and one key cannot be split across reduce chunks: raise the worker memory "
        "budget, pre-aggregate in the map step, or partition by more columns"
    )
