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
