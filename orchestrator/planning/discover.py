"""Turn ``input.path`` (a file, a glob, a directory or a URI) into a sorted list of files.

The order is part of the plan: chunk sequence numbers, and so the output part
names, follow it. Every result is therefore sorted, and local paths are made
absolute so that a worker started in another directory (or on another host
sharing the storage) reads the same file.
"""

from __future__ import annotations

import glob
import os
import re

import pyarrow.fs as pafs

from orchestrator.errors import PlanningError
from orchestrator.planning.input_files import is_uri, resolve
from orchestrator.spec.model import InputSpec

EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
"""File extension -> input format, used by ``format: auto`` and to pick files in a directory."""

_GLOB_CHARS = re.compile(r"[*?\[]")


def detect_format(path: str) -> str | None:
    """The format implied by the file extension, or None when it is not one we know."""
    name = path.rsplit("/", 1)[-1]
    _, ext = os.path.splitext(name)
    return EXTENSIONS.get(ext.lower())


def discover_inputs(spec: InputSpec) -> list[tuple[str, str]]:
    """Every (path, format) that ``spec.path`` names, in a deterministic sorted order.

    A directory contributes its files (recursively) whose extension is known, or,
    with an explicit ``format``, whose extension belongs to that format. Hidden
    files and ``_``-prefixed ones (``_SUCCESS``, ``_metadata``: markers written
    next to datasets) are skipped by directories and globs alike. A file or
    glob match with an unknown extension needs an explicit ``format``.
    """
    pattern = spec.path
    if not pattern:
        raise PlanningError("input.path is empty: name a file, a glob or a directory")
    if is_uri(pattern):
        found, listed_dir = _discover_uri(pattern)
    else:
        found, listed_dir = _discover_local(pattern)
    result: list[tuple[str, str]] = []
    for path in found:
        fmt = _format_of(path, spec.format, from_directory=listed_dir)
        if fmt is not None:
            result.append((path, fmt))
    if not result:
        raise PlanningError(f"no input file matches {pattern!r}")
    return result


def _format_of(path: str, declared: str, *, from_directory: bool) -> str | None:
    """The format to read ``path`` with; None when a directory listing should skip it."""
    detected = detect_format(path)
    if from_directory:
        if detected is None or (declared != "auto" and detected != declared):
            return None
        return detected
    if declared != "auto":
        return declared
    if detected is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise PlanningError(
            f"cannot detect the format of {path!r} (known extensions: {known}); "
            "set input.format to csv, parquet or arrow"
        )
    return detected


def _skipped(name: str) -> bool:
    return name.startswith((".", "_"))


def _discover_local(pattern: str) -> tuple[list[str], bool]:
    """(files, whether they come from a directory listing) for a local path or glob."""
    pattern = os.path.expanduser(pattern)
    if _GLOB_CHARS.search(pattern):
        matches = [os.path.abspath(p) for p in glob.glob(pattern, recursive=True)]
        return sorted(
            p for p in matches if os.path.isfile(p) and not _skipped(os.path.basename(p))
        ), False
    if os.path.isdir(pattern):
        files: list[str] = []
        for root, dirs, names in os.walk(pattern):
            dirs[:] = [d for d in dirs if not _skipped(d)]
            files.extend(os.path.join(root, n) for n in names if not _skipped(n))
        return sorted(os.path.abspath(f) for f in files), True
    if os.path.isfile(pattern):
        return [os.path.abspath(pattern)], False
    return [], False


def _discover_uri(uri: str) -> tuple[list[str], bool]:
    """Like :func:`_discover_local`, through ``pyarrow.fs``; ``file://`` yields local paths."""
    scheme_end = uri.index("://") + 3
    glob_at = _GLOB_CHARS.search(uri, scheme_end)
    if glob_at is None:
        base_uri, rest = uri, ""
    else:
        cut = uri.rfind("/", scheme_end, glob_at.start())
        if cut < 0:
            raise PlanningError(f"a glob in {uri!r} needs a fixed directory before it")
        base_uri, rest = uri[:cut], uri[cut + 1 :]
    fs, base = resolve(base_uri)
    base = base.rstrip("/") or "/"
    if fs is None:  # file:// URI: hand back ordinary local paths
        local_pattern = base if not rest else os.path.join(base, rest)
        return _discover_local(local_pattern)
    prefix = base_uri[: len(base_uri) - len(base)] if base_uri.endswith(base) else uri[:scheme_end]
    try:
        return list_filesystem(fs, base, rest, prefix)
    except OSError as exc:
        raise PlanningError(f"cannot list {uri!r}: {exc}") from exc


def list_filesystem(
    fs: pafs.FileSystem, base: str, rest: str, prefix: str
) -> tuple[list[str], bool]:
    """Files under ``base`` in ``fs`` matching the glob ``rest`` (all of them when empty),
    each returned as ``prefix + path`` so that it opens again with ``from_uri``."""
    info = fs.get_file_info(base)
    if not rest and info.type == pafs.FileType.File:
        return [prefix + base], False
    if info.type != pafs.FileType.Directory:
        return [], False
    listing = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    relative = {
        i.path: i.path[len(base) :].lstrip("/") for i in listing if i.type == pafs.FileType.File
    }
    if not rest:
        kept = [p for p, rel in relative.items() if not any(map(_skipped, rel.split("/")))]
        return sorted(prefix + p for p in kept), True
    regex = re.compile(glob_to_regex(rest))
    matched = [  # as the glob module does: no hidden parts; plus no _-prefixed file
        p
        for p, rel in relative.items()
        if regex.fullmatch(rel)
        and not any(part.startswith(".") for part in rel.split("/"))
        and not _skipped(rel.rsplit("/", 1)[-1])
    ]
    return sorted(prefix + p for p in matched), False


def glob_to_regex(pattern: str) -> str:
    """A regex for a ``/``-separated glob: ``*`` and ``?`` stay in one path segment,
    ``**/`` spans any number of directories (zero included), ``[...]`` is a class.

    Needed for object stores, where there is no ``glob`` module to lean on.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
