"""Linux C library calls that Python's ``os`` module does not offer.

Looked up once through ctypes; ``None`` off Linux or where the C library lacks
the function, so every caller has a plain fallback (or does without).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast


def linux_function(name: str, argtypes: Sequence[Any]) -> Callable[..., int] | None:
    """The C library's ``name`` returning ``int`` (errno kept for
    ``ctypes.get_errno``), or None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    func.argtypes = list(argtypes)
    func.restype = ctypes.c_int
    return cast(Callable[..., int], func)
