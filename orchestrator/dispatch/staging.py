"""Where a job's attempt files live before publish, and where they go after.

The staging area is a hidden sibling of the output directory, so that publish
is a handful of renames on one filesystem and nothing is visible under the
output path before every part is in place.
"""

from __future__ import annotations

import os
from pathlib import Path

PART_EXTENSIONS: dict[str, str] = {"parquet": "parquet", "csv": "csv", "arrow": "arrow"}


def output_dir(output_path: str) -> Path:
    return Path(output_path.rstrip("/") or "/")


def staging_root(output_path: str) -> Path:
    """``out/.customers.jobctl-staging`` for output ``out/customers/``."""
    out = output_dir(output_path)
    return out.parent / f".{out.name}.jobctl-staging"


def staging_dir(output_path: str, job_id: int) -> Path:
    return staging_root(output_path) / f"job-{job_id}"


def attempt_part_name(seq: int, fencing_token: int) -> str:
    """The name (without extension) an attempt writes: never the published name."""
    return f"part-{seq:05d}.attempt-{fencing_token}"


def final_part_name(seq: int, fmt: str) -> str:
    return f"part-{seq:05d}.{PART_EXTENSIONS.get(fmt, fmt)}"


def is_nonempty_dir(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(True for _ in entries)
    except (FileNotFoundError, NotADirectoryError):
        return path.exists()
