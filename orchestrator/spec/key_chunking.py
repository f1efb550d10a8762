"""``chunking.hash``: chunks that hold every row of a key.

    chunking: {rows: 250000, hash: {key: [customer_id], partitions: 16}}

is the job run as a map_reduce by that key: the input is read in chunks of
``rows`` (or ``bytes``), their rows hash-partitioned by ``key`` into
``partitions`` in the staging area (the shuffle), and each reduce chunk, one
or more whole partitions, runs the job's processor. So a processor sees every
row of each of its keys at once.

    chunking: {window: {column: ts, every: 1h}}

is the same map_reduce keyed by each row's time window: the map step
(shuffle/window.py) adds ``window_start``, the start of the row's window, and
each reduce chunk holds one or more whole windows, sorted by window then
``column``.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.strategy import ProcessorRef, StrategySpec
from orchestrator.spec.yaml_nodes import YMap, YNode, YScalar

CHUNKING_KEYS = ("rows", "bytes", "hash", "window")
#: The map step of a window chunking (imported by the worker that runs it only).
WINDOW_MAP = "orchestrator.shuffle.window:assign_window"
#: The column that step adds (shuffle/window.py's WINDOW_COLUMN; not imported
#: here, so validating a spec loads no Arrow).
WINDOW_COLUMN = "window_start"


def key_chunking(
    c: Checker, node: YNode | None, p: str, strategy_node: YNode | None, strategy: dict[str, Any]
) -> dict[str, Any]:
    """The job's strategy fields, turned into a map_reduce when ``chunking.hash`` is set."""
    if not isinstance(node, YMap):
        return strategy
    hash_node, window_node = node.get("hash"), node.get("window")
    if hash_node is not None and window_node is not None:
        c.add(window_node, f"{p}.window", "set either chunking.hash or chunking.window, not both")
        return strategy
    keyed = hash_node if hash_node is not None else window_node
    if keyed is None:
        return strategy
    name = "hash" if hash_node is not None else "window"
    if strategy_node is not None or strategy.get("strategy") != "parallel_chunks":
        by = "its key" if name == "hash" else "time window"
        c.add(
            keyed,
            f"{p}.{name}",
            f"chunking.{name} makes the job a map_reduce by {by}: drop 'strategy' "
            "(or this job type's own strategy already groups its rows)",
        )
        return strategy
    if hash_node is None:
        return _window_chunking(c, keyed, f"{p}.window", strategy)
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


def _window_chunking(c: Checker, node: YNode, p: str, strategy: dict[str, Any]) -> dict[str, Any]:
    """``chunking.window``: a map_reduce by the window start its map step adds."""
    mapping = c.mapping(node, p)
    if mapping is None:
        return strategy
    c.keys(mapping, p, ("column", "every", "partitions"), required=("column", "every"))
    column = (
        c.string(column_node, f"{p}.column") if (column_node := mapping.get("column")) else None
    )
    if column is not None and column.lower() == WINDOW_COLUMN:
        c.add(column_node, f"{p}.column", f"{WINDOW_COLUMN!r} is the column the window adds")
        column = None
    every = c.duration(every_node, f"{p}.every") if (every_node := mapping.get("every")) else None
    if every is not None and every < 1e-6:
        c.add(every_node, f"{p}.every", "must be at least a microsecond")
        every = None
    partitions = None
    if (parts_node := mapping.get("partitions")) is not None:
        partitions = c.integer(parts_node, f"{p}.partitions", minimum=1)
    if column is None or every is None:
        return strategy
    step = ProcessorRef(
        python=WINDOW_MAP, params={"column": column, "every_us": round(every * 1e6)}
    )
    spec = StrategySpec(
        type="map_reduce",
        map=step,
        partition_by=(WINDOW_COLUMN,),
        partitions=partitions,
        sort_by=(WINDOW_COLUMN, column),
    )
    return {"strategy": "map_reduce", "strategy_options": spec.to_dict()}
