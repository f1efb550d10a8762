"""The shuffle: how rows of one key from every map chunk meet in one reduce chunk.

- :mod:`~orchestrator.shuffle.keys`: the normalized key and its stable 64-bit
  row hash (polars ``hash_rows`` with a fixed seed), partition ids.
- :mod:`~orchestrator.shuffle.spill`: a map attempt's output, hash-partitioned
  into one fenced attempt directory in the job's staging area.
- :mod:`~orchestrator.shuffle.manifest`: the reduce phase's manifest (every
  committed map attempt and its per-partition sizes), the reduce ranges planned
  from it (small partitions coalesced, big ones split by a sub-hash) and the
  bounded-memory partition reader.
- :mod:`~orchestrator.shuffle.reduce_ops`: built-in reduce steps on one
  partition (exact dedup by a normalized key, group-by aggregation).
"""
