"""The strategy names the spec language knows (whether this build runs them: support.py).

Their own module, so the typed model and the strategy reader share them without
importing each other.
"""

from __future__ import annotations

STRATEGIES: tuple[str, ...] = (
    "sequential",
    "parallel_chunks",
    "streaming",
    "map_reduce",
    "hybrid",
    "custom",
)
