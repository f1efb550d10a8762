"""Phase ``score`` (one chunk per compare part): match weights, edges above the threshold.

Match weight = prior weight + each field's log2(m/u) at its level, plus for a
term-frequency field that agrees exactly log2(u_exact / tf(value)) (a common
surname weighs less than a rare one). Pairs at or above the model's threshold
weight are the edges; each edge carries every field's level and weight, so a
link can be explained field by field.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.matching.config import MatchConfig
from orchestrator.matching.model import Model, probability
from orchestrator.matching.patterns import unpack
from orchestrator.matching.term_frequency import tf_adjustments
from orchestrator.processors.identity.files import model_path, read_arrow, read_json, tf_path


@lru_cache(maxsize=4)
def _load(model_file: str, tf_file: str, stamp: float) -> tuple[dict[str, Any], pa.Table | None]:
    doc = read_json(Path(model_file))
    tf = read_arrow(Path(tf_file)) if Path(tf_file).exists() else None
    return doc, tf


def load_model(staging: str) -> tuple[dict[str, Any], pa.Table | None]:
    path = model_path(staging)
    return _load(str(path), str(tf_path(staging)), path.stat().st_mtime)


def score(pairs: pa.Table, config: MatchConfig, staging: str) -> pa.Table:
    """The edges among ``pairs`` (a compare part); random pairs are left out."""
    doc, tf = load_model(staging)
    model = Model.from_dict(doc)
    pairs = pairs.filter(pc.greater_equal(pairs["rule"], 0))
    codes = pairs["pattern"].to_numpy()
    levels = unpack(codes, model.radices)
    field_weights = model.field_weights()
    total = np.full(len(codes), model.prior_weight)
    columns: dict[str, Any] = {}
    for index, f in enumerate(config.fields):
        weight = field_weights[index][levels[:, index]]
        if f.term_frequency and tf is not None:
            counts = tf.filter(pc.equal(tf["field"], f.name)).select(["value", "count"])
            values = pairs[f"tf_{f.name}"]
            exact = values.is_valid().to_numpy(zero_copy_only=False)
            u_exact = float(doc["term_frequency"][f.name]) or 1e-9
            weight = weight + tf_adjustments(pc.fill_null(values, ""), counts, u_exact, exact)
        total += weight
        columns[f"{f.name}_level"] = pa.array(levels[:, index], pa.int8())
        columns[f"{f.name}_weight"] = pa.array(weight, pa.float64())
    keep = total >= float(doc["threshold"]["weight"])
    where = pa.array(np.flatnonzero(keep))
    rules = [config.rule_label(i) for i in range(len(config.rules))]
    rule_names = pa.array(rules).take(pc.cast(pairs["rule"], pa.int32()).take(where))
    return pa.table(
        {
            "id_l": pairs["id_l"].take(where),
            "id_r": pairs["id_r"].take(where),
            "match_probability": pa.array(probability(total[keep]), pa.float64()),
            "match_weight": pa.array(total[keep], pa.float64()),
            "blocking_rule": rule_names,
            **{name: values.take(where) for name, values in columns.items()},
        }
    )
