"""``identity_match``: the planner of an identity-matching job's six phases.

Phase 0 ``prepare`` (map, one chunk per input chunk) routes every record by
every blocking rule's key into hash partitions (the shuffle, by ``_block``).
Phase 1 ``compare``: one chunk per partition range (the map_reduce reduce
planning: small partitions coalesced, big ones split), pairs and patterns.
Phase 2 ``train``: one chunk over every compare chunk's statistics.
Phase 3 ``score``: one chunk per compare part; its parts are the edges (Parquet).
Phase 4 ``cluster``: one chunk over every edges part; or, past
``cluster_max_edges`` edges (a planned fact), the partitioned clustering:
phase 4 hash-partitions the edges, then one phase per large- or small-star
step (one chunk per partition) until no partition has a node left to move,
then one ``finish`` phase (``processors/identity/cluster_steps.py``); every
phase after 4 is then one index later than below.
Phase 5 ``entities``: the input chunks again, each row with its ``entity_id``;
these parts are the job's output. Before it, the planner moves the edges
parts and the model into ``<staging>/side/`` and names them in
``<staging>/side.json``: publish moves them into the output folder with the
entities (``out/edges/``, ``out/model.json``) and the summary into ``_SUCCESS``.

What a phase needs from two phases back (the compare parts for scoring) the
planner writes into ``identity/`` when that phase finishes: the same bytes for
the same outcomes, so planning again after a crash is harmless. The processor
of every phase is the job's own (``processors/identity/``), which reads
``ctx.chunk.phase``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.errors import PlanningError
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.processors.identity.files import (
    BLOCK,
    CLUSTER,
    COMPARE,
    ENTITIES,
    PHASE_NAMES,
    PREPARE,
    SCORE,
    TRAIN,
    cc_dir,
    cluster_stats_path,
    cluster_step,
    cluster_step_path,
    edges_list_path,
    identity_dir,
    model_path,
    read_json,
    write_json,
)
from orchestrator.shuffle.manifest import (
    WORKER_MEMORY_BUDGET,
    build_manifest,
    choose_partitions,
    max_partition_bytes,
    plan_reduce_ranges,
    write_manifest,
)
from orchestrator.shuffle.runtime import reduce_descriptor
from orchestrator.spec.strategy import StrategySpec
from orchestrator.strategies.base import (
    CommittedChunk,
    PhaseSpec,
    PlanContext,
    Strategy,
    chunks_from_parts,
    renumber,
)
from orchestrator.strategies.map_reduce import _map_output

#: Arrow bytes per compare partition: small, so pairs of one chunk stay well in memory
PARTITION_BYTES = 32 * 1024 * 1024
#: the prepare phase emits a record about once per blocking rule
ROWS_PER_RECORD = 4
#: the one-worker cluster chunk's peak RSS per edge over an idle worker
#: (bench/cluster_paths.py: 3.75M edges of 1M generated people, 725 MiB
#: against 103 MiB: ~170 bytes per edge)
CLUSTER_BYTES_PER_EDGE = 170
#: past this many edges the cluster phase is partitioned (a planned fact, so a
#: test can plant a small one): what the worker memory budget (1 GiB) holds
#: at the one-worker path's rate, ~6.3M edges (~1.7M generated people)
CLUSTER_MAX_EDGES = WORKER_MEMORY_BUDGET // CLUSTER_BYTES_PER_EDGE
#: phases of star steps at most (a chain of n records takes ~2 log2 n)
MAX_STAR_STEPS = 200
#: what the planner tells publish to move into the output folder
SIDE_DIR = "side"
SIDE_LIST = "side.json"


def _pairs_list(staging: str) -> Path:
    return identity_dir(staging) / "pairs.json"


class IdentityMatch(Strategy):
    def __init__(self, spec: StrategySpec) -> None:
        super().__init__(spec)

    def planned_facts(self, est_input_bytes: int) -> dict[str, Any]:
        return {
            "partitions": choose_partitions(est_input_bytes * ROWS_PER_RECORD, PARTITION_BYTES),
            "cluster_max_edges": CLUSTER_MAX_EDGES,
        }

    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        if ENTITIES < index <= ENTITIES + MAX_STAR_STEPS + 1:  # a partitioned clustering's
            return PhaseSpec(index=index, name="cluster step or entities")
        if not 0 <= index < len(PHASE_NAMES):
            return None
        name, of = PHASE_NAMES[index], len(PHASE_NAMES)
        if index == PREPARE:
            shuffle = {"keys": [BLOCK], "normalize": [], "partitions": int(planned["partitions"])}
            return PhaseSpec(index=index, name=name, shuffle=shuffle, of=of)
        if index == COMPARE:
            budget = int(planned.get("memory_budget") or WORKER_MEMORY_BUDGET)
            return PhaseSpec(
                index=index,
                name=name,
                max_bytes=max_partition_bytes(budget),
                intermediate=True,
                of=of,
            )
        # score writes the edges (Parquet, moved into out/edges/); entities are the output
        intermediate = index not in (SCORE, ENTITIES)
        return PhaseSpec(index=index, name=name, intermediate=intermediate, of=of)

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        staging, seq, ordered = ctx.staging_dir, ctx.next_seq, sorted(outcomes, key=lambda o: o.seq)
        if done == PREPARE:
            return self._compare_chunks(ctx, ordered)
        if done == COMPARE:
            parts = [{"seq": o.seq, "parts": list(o.parts), "rows": o.rows_out} for o in ordered]
            write_json(_pairs_list(staging), {"chunks": parts})
            first = ordered[0].seq if ordered else seq
            last = ordered[-1].seq + 1 if ordered else seq
            return [ChunkDescriptor(seq, "sequence", None, first, last, 0, phase=TRAIN)]
        if done == TRAIN:
            listed = read_json(_pairs_list(staging))["chunks"]
            compared = [
                CommittedChunk(c["seq"], COMPARE, tuple(c["parts"]), c["rows"]) for c in listed
            ]
            return chunks_from_parts(compared, seq, SCORE)
        if done == SCORE:
            edges = [p for o in ordered for p in o.parts]
            write_json(edges_list_path(staging), {"parts": edges})
            count = sum(o.rows_out for o in ordered)
            limit = int(ctx.planned.get("cluster_max_edges") or CLUSTER_MAX_EDGES)
            if count <= limit:
                return [ChunkDescriptor(seq, "sequence", None, 0, 1, 0, phase=CLUSTER)]
            partitions = max(2, -(-2 * count // limit))
            step0 = {"step": "partition", "partitions": partitions, "edges": count, "write": "s000"}
            return _step_chunks(staging, seq, CLUSTER, step0, len(edges))
        step = cluster_step(staging, done)
        if step is not None and step["step"] != "finish":
            return _next_step(staging, seq, done, step, ordered)
        if done == CLUSTER or step is not None:  # clustered: the entities
            _stage_side_outputs(staging)
            return renumber(ctx.input_chunks, seq, done + 1)
        return None

    def _compare_chunks(
        self, ctx: PlanContext, ordered: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor]:
        maps = [_map_output(o) for o in ordered]
        try:
            manifest = build_manifest((BLOCK,), (), int(ctx.planned["partitions"]), maps)
        except ValueError as exc:
            raise PlanningError(str(exc)) from None
        path = write_manifest(ctx.staging_dir, ctx.next_seq, manifest)
        budget = int(ctx.planned.get("memory_budget") or WORKER_MEMORY_BUDGET)
        ranges = plan_reduce_ranges(manifest, PARTITION_BYTES, max_partition_bytes(budget))
        return [
            reduce_descriptor(ctx.next_seq + i, COMPARE, path, rng) for i, rng in enumerate(ranges)
        ]


def _step_chunks(
    staging: str, seq: int, phase: int, step: dict[str, Any], chunks: int
) -> list[ChunkDescriptor]:
    """Name ``phase``'s clustering step (the file its chunks read), and its chunks."""
    write_json(cluster_step_path(staging, phase), step)
    return [
        ChunkDescriptor(seq + i, "sequence", None, i, i + 1, 0, phase=phase) for i in range(chunks)
    ]


def _next_step(
    staging: str, seq: int, done: int, step: dict[str, Any], ordered: Sequence[CommittedChunk]
) -> list[ChunkDescriptor]:
    """After a partition or star step: the next star step, or the finish when
    no partition had a node left to move (that step changed nothing)."""
    partitions = int(step["partitions"])
    if step.get("read"):  # no later step reads it (a stale attempt's read fails: harmless)
        shutil.rmtree(cc_dir(staging) / str(step["read"]), ignore_errors=True)
    common = {"partitions": partitions, "edges": step["edges"], "read": step["write"]}
    sources = partitions if step["step"] == "star" else len(ordered)
    moving = sum(int(o.result.get("value") or 0) for o in ordered)
    if step["step"] == "star" and moving == 0:
        return _step_chunks(
            staging, seq, done + 1, {**common, "step": "finish", "sources": sources}, 1
        )
    index = int(step["index"]) + 1 if step["step"] == "star" else 0
    if index >= MAX_STAR_STEPS:
        raise PlanningError(f"identity_match: clustering did not converge in {index} steps")
    following = {**common, "step": "star", "index": index, "sources": sources}
    return _step_chunks(
        staging, seq, done + 1, {**following, "write": f"s{index + 1:03d}"}, partitions
    )


def _stage_side_outputs(staging: str) -> None:
    """Edges parts and the model into ``<staging>/side/``, listed with the summary."""
    side = Path(staging) / SIDE_DIR
    edges = side / "edges"
    edges.mkdir(parents=True, exist_ok=True)
    for index, source in enumerate(read_json(edges_list_path(staging))["parts"]):
        target = edges / f"part-{index:05d}.parquet"
        if not target.exists():
            if not os.path.exists(source):
                raise PlanningError(f"identity_match: committed edges part is missing: {source}")
            os.replace(source, target)
    model = side / "model.json"
    if not model.exists():
        shutil.copyfile(model_path(staging), model)
    doc = read_json(model_path(staging))
    summary = {
        "identity_match": {
            **doc["training"],
            **read_json(cluster_stats_path(staging)),
            "threshold": doc["threshold"],
            "prior": doc["prior"],
        }
    }
    write_json(Path(staging) / SIDE_LIST, {"outputs": ["edges", "model.json"], "summary": summary})
