"""Files a chunk writes beside its part (a report's HTML page), published with it.

A processor puts ``{name: bytes}`` in ``ctx.files``; the attempt writes them
into ``{part file}.files/`` — named after the attempt's own part, so two
attempts never share one — and publish links the committed attempt's files
into the output folder next to the parts and lists them in ``_SUCCESS``.
Linking (not moving) keeps publish idempotent: a publish that died half-way
sees the same files again.
"""

from __future__ import annotations

import os
import re
import shutil

from orchestrator.io.parts import write_bytes_atomic

SUFFIX = ".files"
#: A plain file name that cannot collide with parts, the manifest or hidden temp files.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def sidecar_dir(part_path: str) -> str:
    return part_path + SUFFIX


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name.startswith("part-"):
        raise ValueError(
            f"ctx.files name {name!r}: use a plain file name (letters, digits, '.', '_', '-'), "
            "not starting with 'part-'"
        )


def write_sidecars(part_path: str, files: dict[str, bytes]) -> None:
    for name in files:
        check_name(name)
    directory = sidecar_dir(part_path)
    for name, data in sorted(files.items()):
        write_bytes_atomic(directory, name, data)


def publish_sidecars(part_path: str, ready: str) -> list[str]:
    """Link the committed attempt's files into ``ready``; their names, sorted."""
    directory = sidecar_dir(part_path)
    if not os.path.isdir(directory):
        return []
    names = sorted(n for n in os.listdir(directory) if NAME.fullmatch(n))
    for name in names:
        target = os.path.join(ready, name)
        if os.path.exists(target):
            continue
        source = os.path.join(directory, name)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return names
