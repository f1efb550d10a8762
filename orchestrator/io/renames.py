"""Swap two directories in one step, where the kernel can.

Publishing with ``mode: overwrite`` replaces a non-empty output directory. Two
plain renames (old aside, new in) leave a moment with no output at all, and a
crash in that moment leaves readers with nothing until a resume publishes
again. Linux's ``renameat2(RENAME_EXCHANGE)`` swaps the two names atomically:
a reader sees the old output or the new one, never neither.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from orchestrator.io.libc import linux_function

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

# The kernel, the C library or the filesystem cannot exchange: fall back.
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


#: ``renameat2`` (glibc 2.28 and later); None elsewhere.
_renameat2 = linux_function(
    "renameat2", [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
)


def exchange(first: str | Path, second: str | Path) -> bool:
    """Atomically swap the names ``first`` and ``second`` (both must exist).

    Returns False, having changed nothing, where the exchange is not available
    (not Linux, an old C library or kernel, a filesystem without it); the caller
    then falls back to plain renames. Any other failure raises ``OSError``.
    """
    if _renameat2 is None:
        return False
    old, new = os.fsencode(first), os.fsencode(second)
    if _renameat2(_AT_FDCWD, old, _AT_FDCWD, new, _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))
