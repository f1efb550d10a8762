"""``output.merge`` and ``output.partition_by``: how the last phase's parts are laid out at publish.

    output:
      path: out/
      merge: {files: 4, sort_by: [customer_id]}   # 4 files, rows sorted
      partition_by: [country]                      # out/country=FR/part-00000.parquet

Both are Parquet only (the layout is rewritten through Arrow at publish).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.spec.checks import Checker, column_list
from orchestrator.spec.yaml_nodes import YMap

#: every key of ``output`` (the layout ones read here, the others in job_reader)
OUTPUT_KEYS = ("path", "format", "compression", "mode", "schema", "merge", "partition_by")
LAYOUT_FORMATS: tuple[str, ...] = ("parquet",)
#: A ceiling on ``merge.files``: more files than this is not a merge.
MAX_MERGE_FILES = 100_000


@dataclass(frozen=True)
class OutputLayout:
    merge_files: int | None = None
    sort_by: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()


def read_output_layout(c: Checker, mapping: YMap, p: str, fmt: str) -> OutputLayout:
    """The layout keys of ``output``; each problem is recorded on ``c`` with its line."""
    merge_node = mapping.get("merge")
    partition_node = mapping.get("partition_by")
    if merge_node is None and partition_node is None:
        return OutputLayout()
    if fmt not in LAYOUT_FORMATS:
        node = merge_node if merge_node is not None else partition_node
        key = "merge" if merge_node is not None else "partition_by"
        c.add(node, f"{p}.{key}", f"output.{key} needs format: parquet (got {fmt})")
        return OutputLayout()
    files: int | None = None
    sort_by: tuple[str, ...] = ()
    if merge_node is not None:
        merge = c.mapping(merge_node, f"{p}.merge")
        if merge is not None:
            c.keys(merge, f"{p}.merge", ("files", "sort_by"), required=("files",))
            if (files_node := merge.get("files")) is not None:
                files = c.integer(files_node, f"{p}.merge.files", minimum=1)
                if files is not None and files > MAX_MERGE_FILES:
                    c.add(files_node, f"{p}.merge.files", f"at most {MAX_MERGE_FILES} files")
                    files = None
            sort_by = column_list(c, merge.get("sort_by"), f"{p}.merge.sort_by", distinct=True)
    partition_by = column_list(c, partition_node, f"{p}.partition_by", distinct=True)
    return OutputLayout(merge_files=files, sort_by=sort_by, partition_by=partition_by)
