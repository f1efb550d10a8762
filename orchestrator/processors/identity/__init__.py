"""``type: identity_match``: unsupervised record matching in six phases.

One processor for every phase of the job (the planner is
``strategies/identity_match.py``); ``ctx.chunk.phase`` says which step runs,
and the job's staging area (``ctx.staging_dir``) holds the files the phases
hand each other (``files.py``). Params are read by ``matching/config.py``,
which the spec also runs at validate time (with file:line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from orchestrator.errors import ProcessorError
from orchestrator.matching.config import ConfigError, MatchConfig, parse_config
from orchestrator.processors.base import ChunkContext
from orchestrator.processors.identity import files

_CONFIGS: dict[str, MatchConfig] = {}


def check_params(params: Mapping[str, Any]) -> None:
    config_of(params)


def config_of(params: Mapping[str, Any]) -> MatchConfig:
    import json

    key = json.dumps(params, sort_keys=True, default=str)
    if key not in _CONFIGS:
        try:
            _CONFIGS[key] = parse_config(params)
        except ConfigError as exc:
            raise ProcessorError(f"identity_match: {exc}") from None
    return _CONFIGS[key]


def identity_match(table: pa.Table, ctx: ChunkContext) -> pa.Table | None:
    config = config_of(ctx.params)
    phase = ctx.chunk.phase
    if phase == files.PREPARE:
        from orchestrator.processors.identity.prepare import prepare

        return prepare(table, config, ctx.chunk.path)
    staging = ctx.staging_dir
    if staging is None:
        raise ProcessorError("identity_match needs an output (its staging area)")
    if phase == files.COMPARE:
        from orchestrator.processors.identity.compare import compare

        sub = ctx.chunk.row_groups[0] if ctx.chunk.row_groups else 0
        seed = ctx.chunk.start * 1009 + sub
        return compare(table, config, staging, ctx.chunk.seq, seed, ctx.logger)
    if phase == files.TRAIN:
        from orchestrator.processors.identity.train import train

        doc = train(config, staging, range(ctx.chunk.start, ctx.chunk.stop))
        ctx.logger.info(
            "identity_match: model trained: prior %.3g, threshold weight %.2f (p=%.3f)",
            doc["prior"],
            doc["threshold"]["weight"],
            doc["threshold"]["probability"],
        )
        return None
    if phase == files.SCORE:
        from orchestrator.processors.identity.score import score

        return score(table, config, staging)
    if phase == files.CLUSTER or files.cluster_step(staging, phase) is not None:
        from orchestrator.processors.identity.cluster_steps import cluster_chunk

        cluster_chunk(ctx, config)
        return None
    if phase >= files.ENTITIES:  # after a partitioned clustering: a later phase
        from orchestrator.processors.identity.entities import entities

        return entities(table, config, staging, ctx.chunk.path)
    raise ProcessorError(f"identity_match has no phase {phase}")
