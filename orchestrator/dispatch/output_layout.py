"""Publish with a layout: the last phase's parts rewritten as ``output.merge``
(N files, optionally sorted) and/or ``output.partition_by`` (hive-style
``col=value/`` directories) asks.

Memory is bounded, never the dataset: DuckDB reads the committed parts as one
stream (sorting, when ``sort_by`` asks, with its own spill to a temp directory in
the job's staging area under a memory limit) and Arrow's dataset writer writes
it out in row groups. The committed parts are only read, never moved: they stay
in staging until the output is swapped into place, so a coordinator that dies
half-way is followed by one that clears the half-written layout and writes it
again from the same parts (idempotent publish).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

from orchestrator.io.parts import file_checksum
from orchestrator.spec.model import OutputSpec

#: Row groups of this many rows: large enough for scans, small enough to stream
ROW_GROUP_ROWS = 128 * 1024
#: What DuckDB may hold in memory while it reads (and sorts) the parts
MEMORY_LIMIT = "512MB"
_TEMPLATE = "part-{i}.parquet"


def write_layout(
    sources: list[Path], work: Path, ready: Path, output: OutputSpec, rows_expected: int
) -> list[dict[str, Any]]:
    """Write the laid-out files in ``work`` (cleared first), then move them
    under ``ready``; returns one manifest entry per file (its path relative to
    ``ready``, rows, bytes, checksum).

    The rewrite is deterministic (one thread, the parts in chunk order), so a
    publish that died half-way through the moves is redone with the same files.
    Raises ValueError when the rows written differ from ``rows_expected`` (the
    committed parts' own count).
    """
    import duckdb
    import pyarrow.dataset as ds

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ready.mkdir(parents=True, exist_ok=True)
    if not sources:
        return []
    spill = work.parent / "layout-spill"
    spill.mkdir(exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": str(spill),
            "threads": 1,
            "preserve_insertion_order": True,
        }
    )
    try:
        files = ", ".join(_sql_string(str(path)) for path in sources)
        order = ""
        if output.sort_by:
            order = " ORDER BY " + ", ".join(_sql_name(col) for col in output.sort_by)
        relation = con.sql(f"SELECT * FROM read_parquet([{files}]){order}")
        # DuckDB hands a zoned timestamp back in UTC (and may widen other
        # types): the output keeps the parts' own schema
        reader = relation.to_arrow_reader(ROW_GROUP_ROWS).cast(_part_schema(sources[0]))
        per_file = max(1, math.ceil(rows_expected / (output.merge_files or 1)))
        if not output.merge_files:
            per_file = ROW_GROUP_ROWS
        ds.write_dataset(
            reader,
            work,
            format="parquet",
            partitioning=list(output.partition_by) or None,
            partitioning_flavor="hive" if output.partition_by else None,
            basename_template=_TEMPLATE,
            max_rows_per_file=per_file if output.merge_files else 0,
            max_rows_per_group=min(ROW_GROUP_ROWS, per_file),
            min_rows_per_group=min(ROW_GROUP_ROWS, per_file),
            max_partitions=100_000,
            existing_data_behavior="overwrite_or_ignore",
            file_options=ds.ParquetFileFormat().make_write_options(compression=output.compression),
            use_threads=False,
        )
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    entries = _describe(work)
    written = sum(entry["rows"] for entry in entries)
    if written != rows_expected:
        raise ValueError(f"the layout holds {written} rows, the committed parts {rows_expected}")
    for entry in sorted(work.iterdir()):
        target = ready / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(entry, target)
    work.rmdir()
    return entries


def _describe(work: Path) -> list[dict[str, Any]]:
    """The written files, renamed ``part-00000.parquet`` (numbered per
    directory, in the writer's order), with rows, bytes and checksum."""
    import pyarrow.parquet as pq

    entries = []
    for directory, _, names in sorted(os.walk(work)):
        written = sorted(
            (name for name in names if name.startswith("part-") and name.endswith(".parquet")),
            key=lambda name: int(name[len("part-") : -len(".parquet")]),
        )
        for index, name in enumerate(written):
            final = Path(directory) / f"part-{index:05d}.parquet"
            os.replace(Path(directory) / name, final)
            entries.append(
                {
                    "file": final.relative_to(work).as_posix(),
                    "rows": pq.ParquetFile(final).metadata.num_rows,
                    "bytes": final.stat().st_size,
                    "checksum": file_checksum(str(final)),
                }
            )
    return sorted(entries, key=lambda entry: entry["file"])


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _part_schema(path: Path) -> Any:
    """The schema every committed part shares (checked at commit), without the
    writer's metadata."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).remove_metadata()
