"""``chunking.hash``: chunks that hold every row of a key.

    chunking: {rows: 250000, hash: {key: [customer_id], partitions: 16}}

is the job run as a map_reduce by that key: the input is read in chunks of
``rows`` (or ``bytes``), their rows hash-partitioned by ``key`` into
``partitions`` in the staging area (the shuffle), and each reduce chunk, one
or more whole partitions, runs the job's processor. So a processor sees every
row of each of its keys at once. ``chunking.window`` (time windows) is not
built yet and is refused here, with its line.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.strategy import StrategySpec
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar

CHUNKING_KEYS = ("rows", "bytes", "hash", "window")
WINDOW_REFUSAL = (
    "chunking.window is not available in this build: use chunking.hash, or a "
    "map_reduce with partition_by on a column holding the window"
)


def key_chunking(
    c: Checker, node: YNode | None, p: str, strategy_node: YNode | None, strategy: dict[str, Any]
) -> dict[str, Any]:
    """The job's strategy fields, turned into a map_reduce when ``chunking.hash`` is set."""
    if not isinstance(node, YMap):
        return strategy
    if (window := node.get("window")) is not None:
        c.add(window, f"{p}.window", WINDOW_REFUSAL)
    hash_node = node.get("hash")
    if hash_node is None:
        return strategy
    if strategy_node is not None or strategy.get("strategy") != "parallel_chunks":
        c.add(
            hash_node,
            f"{p}.hash",
            "chunking.hash makes the job a map_reduce by its key: drop 'strategy' "
            "(or this job type's own strategy already groups its rows)",
        )
        return strategy
    mapping = c.mapping(hash_node, f"{p}.hash")
    if mapping is None:
        return strategy
    c.keys(mapping, f"{p}.hash", ("key", "partitions"), required=("key",))
    keys: tuple[str, ...] = ()
    if (key_node := mapping.get("key")) is not None:
        if isinstance(key_node, YScalar) and isinstance(key_node.value, str):
            keys = (key_node.value,)
        else:
            items = c.string_list(key_node, f"{p}.hash.key")
            keys = tuple(text for text, _ in items or ())
            if items is not None and not keys:
                c.add(key_node, f"{p}.hash.key", "must name at least one column")
    partitions = None
    if (parts_node := mapping.get("partitions")) is not None:
        partitions = c.integer(parts_node, f"{p}.hash.partitions", minimum=1)
    if not keys:
        return strategy
    spec = StrategySpec(type="map_reduce", partition_by=keys, partitions=partitions)
    return {"strategy": "map_reduce", "strategy_options": spec.to_dict()}
