"""Where a spec's paths point: resolved once, when the spec is loaded.

A job may run later, from another directory or on another host, so every
local path in a loaded spec is absolute; relative paths mean "next to the
spec file", as they do in a Makefile or docker-compose file.
"""

from __future__ import annotations

import os
import re

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def resolve_path(raw: str, base_dir: str, *, directory: bool = False) -> str:
    """An absolute local path (``~`` expanded, relative to the spec's folder).

    URIs (``s3://``, ``file://``...) are returned unchanged. With
    ``directory`` the result ends with a separator: an output location is a
    folder of parts, whatever the user wrote.
    """
    if _URI.match(raw):
        return raw
    path = os.path.expanduser(raw)
    if not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    path = os.path.normpath(path)
    if directory and not path.endswith(os.sep):
        path += os.sep
    return path


def python_path(spec_file: str | None) -> list[str]:
    """Folders added to ``sys.path`` for a job's ``python:`` processor: the
    spec file's own folder, so ``python: slowproc:slow`` finds ``slowproc.py``
    next to the spec without PYTHONPATH (in validate, the coordinator and
    local workers alike). Appended, never prepended: an installed package of
    the same name wins, as it would with PYTHONPATH unset."""
    if not spec_file or spec_file.startswith("<"):
        return []
    return [os.path.dirname(os.path.abspath(spec_file))]
