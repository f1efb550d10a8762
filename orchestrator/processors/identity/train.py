"""Phase ``train`` (one chunk): the model from the summed pattern counts, no labels.

``m`` and the blocked-set prior λ come from EM on the candidate pairs' pattern
counts with ``u`` free; the ``u`` used for scoring comes from the random pairs
every compare chunk sampled; the prior is corrected from the blocked pairs to
all N(N-1)/2 pairs (in link mode, all pairs across datasets; ``matching/model.py``
says why). ``threshold: auto`` is
the weight cut that maximizes the expected pairwise F1 of the edges under the
model (``matching/threshold.py``), but never below match probability
:data:`AUTO_MIN_PROBABILITY`: connected components turn every false edge into
a merge of two clusters, so a cut that is best for single edges chains
clusters (measured on 1M generated people: the expected-F1 cut fell at p=0.46
and gave pairwise F1 0.82 after clustering; p >= 0.9 gave 0.99, p >= 0.99
0.991). A probability p is the weight log2(p/(1-p)).
With ``params.model`` the previous model's m, u, prior and threshold are used
as they are and only the term-frequency counts are taken from this data.

Writes ``identity/model.json`` (fields, levels, m, u, λ, prior, threshold,
u_exact per term-frequency field, training figures) and ``identity/tf.arrow``
(the summed value counts).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.errors import ProcessorError
from orchestrator.matching.blocking_recall import estimate_recall
from orchestrator.matching.config import MatchConfig
from orchestrator.matching.model import (
    Model,
    expectation_maximisation,
    initial_m,
    level_distribution,
    prior_over_all_pairs,
    total_pairs,
)
from orchestrator.matching.patterns import merge_counts, unpack
from orchestrator.matching.term_frequency import merge_value_counts, u_exact_from_counts
from orchestrator.matching.threshold import expected_f1_threshold
from orchestrator.processors.identity.compare import radices
from orchestrator.processors.identity.files import (
    compare_stats_path,
    model_path,
    read_arrow,
    read_json,
    tf_counts_path,
    tf_path,
    write_arrow,
    write_json,
)

#: the lowest match probability ``threshold: auto`` cuts at (see the module docstring)
AUTO_MIN_PROBABILITY = 0.95
#: EM's starting share of matches among blocked pairs
START_LAMBDA = 0.3


def _counts(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    data = np.asarray(rows, dtype=np.int64)
    return data[:, 0], data[:, 1]


def _random_u(patterns: np.ndarray, counts: np.ndarray, rad: list[int]) -> list[np.ndarray]:
    levels = np.repeat(unpack(patterns, rad), counts, axis=0) if len(patterns) else None
    if levels is None:
        raise ProcessorError("identity_match: no random pairs to estimate u (fewer than 2 records)")
    return level_distribution(levels, rad)


def train(config: MatchConfig, staging: str, seqs: range) -> dict[str, Any]:
    """Train (or load) the model from compare chunks ``seqs``; write it; its document."""
    stats = [read_json(compare_stats_path(staging, s)) for s in seqs]
    patterns, counts = merge_counts(*(_counts(s["patterns"]) for s in stats))
    rpatterns, rcounts = merge_counts(*(_counts(s["random_patterns"]) for s in stats))
    records = sum(int(s["records"]) for s in stats)
    pairs_by_rule = np.sum([s["pairs_by_rule"] for s in stats], axis=0).tolist() if stats else []
    tf_parts = [read_arrow(p) for s in seqs if (p := tf_counts_path(staging, s)).exists()]
    tf_fields = [f.name for f in config.fields if f.term_frequency]
    tf_tables = []
    u_exact: dict[str, float] = {}
    for name in tf_fields:
        parts = [t.filter(pc.equal(t["field"], name)).select(["value", "count"]) for t in tf_parts]
        merged = merge_value_counts(parts)
        u_exact[name] = u_exact_from_counts(merged)
        tf_tables.append(merged.append_column("field", pa.array([name] * len(merged))))
    rad = radices(config)
    if config.model:
        doc = _previous(config, Path(config.model))
    else:
        doc = _fit(config, rad, patterns, counts, rpatterns, rcounts, _possible_pairs(stats))
    doc["term_frequency"] = u_exact
    doc["training"] = {
        "records": records,
        "pairs_compared": int(counts.sum()),
        "pairs_by_rule": dict(
            zip(
                [config.rule_label(i) for i in range(len(config.rules))],
                [int(p) for p in pairs_by_rule],
                strict=False,
            )
        ),
        "random_pairs": int(rcounts.sum()),
        "distinct_patterns": len(patterns),
        "largest_blocks": [
            {"rule": config.rule_label(rule), "records": size}
            for size, rule in sorted(
                (tuple(b) for s in stats for b in s["largest_blocks"]), reverse=True
            )[:5]
        ],
        "oversized_blocks_split": sum(int(s.get("oversized_blocks_split", 0)) for s in stats),
        "records_not_paired_in_oversized_blocks": sum(
            int(s.get("records_not_paired_in_oversized_blocks", 0)) for s in stats
        ),
        "blocking_recall": _blocking_recall(config, doc, stats),
    }
    if tf_tables:
        write_arrow(tf_path(staging), pa.concat_tables(tf_tables))
    write_json(model_path(staging), doc)
    return doc


def _blocking_recall(
    config: MatchConfig, doc: dict[str, Any], stats: list[dict[str, Any]]
) -> dict[str, Any]:
    """The blocking's estimated recall (``matching/blocking_recall.py``) over
    the pairs the job links: those whose match weight clears its threshold.
    (Weighting every compared pair by its match probability among the blocked
    pairs instead overcounted at scale: on 1M people it expected 17.8M matches
    among 33M pairs, where 3.7M were linked, and estimated recall 0.51.)"""
    rows = [row for s in stats for row in s.get("pattern_rules", [])]
    labels = [config.rule_label(i) for i in range(len(config.rules))]
    if not rows:
        return estimate_recall(np.zeros(0), np.zeros(0, np.int64), np.zeros(0), labels)
    grouped = np.array(rows, dtype=np.int64)
    weights = Model.from_dict(doc).pattern_weights(grouped[:, 0])
    linked = (weights >= float(doc["threshold"]["weight"])).astype(np.float64)
    return estimate_recall(linked, grouped[:, 1], grouped[:, 2], labels)


def _possible_pairs(stats: list[dict[str, Any]]) -> int:
    """Every pair a matcher could compare: N(N-1)/2 records when deduplicating,
    the pairs of records of different datasets when linking."""
    by_dataset = [s.get("records_by_dataset") or [] for s in stats]
    if not any(by_dataset):
        return total_pairs(sum(int(s["records"]) for s in stats))
    sizes = np.sum([row for row in by_dataset if row], axis=0).astype(object)
    return int((sum(sizes) ** 2 - sum(n * n for n in sizes)) // 2)


def _fit(
    config: MatchConfig,
    rad: list[int],
    patterns: np.ndarray,
    counts: np.ndarray,
    rpatterns: np.ndarray,
    rcounts: np.ndarray,
    possible: int,
) -> dict[str, Any]:
    u = _random_u(rpatterns, rcounts, rad)
    if not len(patterns):
        raise ProcessorError("identity_match: blocking produced no candidate pairs to train on")
    em = expectation_maximisation(patterns, counts, rad, initial_m(rad), u, START_LAMBDA)
    prior = prior_over_all_pairs(em.lambda_, int(counts.sum()), possible)
    model = Model(config.names, tuple(rad), em.m, u, prior)
    if config.threshold == "auto":
        cut = expected_f1_threshold(model.pattern_weights(patterns), counts)
        floor = math.log2(AUTO_MIN_PROBABILITY / (1 - AUTO_MIN_PROBABILITY))
        weight = max(cut.weight, floor)
        method = {
            "method": "max expected pairwise F1 under the model, at least probability "
            f"{AUTO_MIN_PROBABILITY}",
            # the expected-F1 cut itself and what the model expects of it
            "expected_f1_weight": cut.weight,
            "expected_precision": cut.expected_precision,
            "expected_recall": cut.expected_recall,
            "expected_f1": cut.expected_f1,
        }
    else:
        p = float(config.threshold)
        weight, method = math.log2(p / (1 - p)), {"method": "given probability"}
    return {
        **model.to_dict(),
        "lambda_blocked": em.lambda_,
        "em": {"iterations": em.iterations, "converged": em.converged},
        "levels": [f.comparison.level_names() for f in config.fields],
        "comparisons": [
            {"kind": f.comparison.kind, "thresholds": list(f.comparison.thresholds)}
            for f in config.fields
        ],
        "threshold": {"weight": weight, "probability": 1 / (1 + 2**-weight), **method},
    }


def _previous(config: MatchConfig, path: Path) -> dict[str, Any]:
    """A model file of an earlier run, checked against this job's fields and levels."""
    try:
        doc = read_json(path)
        Model.from_dict(doc)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProcessorError(
            f"identity_match: params.model {path}: cannot read it: {exc}"
        ) from None
    if list(doc["fields"]) != list(config.names) or list(doc["radices"]) != radices(config):
        raise ProcessorError(
            f"identity_match: params.model {path} was trained on fields {doc['fields']} with "
            f"levels {doc['radices']}; this job compares {list(config.names)} with "
            f"{radices(config)}"
        )
    kept = {k: v for k, v in doc.items() if k not in ("training", "term_frequency")}
    if config.threshold != "auto":
        p = float(config.threshold)
        weight = math.log2(p / (1 - p))
        kept["threshold"] = {"weight": weight, "probability": p, "method": "given probability"}
    kept["reused_from"] = str(path)
    return kept
