"""JSON on the per-chunk paths: orjson, with the standard library as the fallback.

Every chunk crosses JSON several times: its ``run`` frame to the worker, the
worker's ``result`` frame, the batch that commits outcomes, the descriptor a
lease returns. With the standard library that was about half of the
coordinator's CPU time in a profile of 60,000 no-op chunks (py-spy), and the
coordinator is what bounds dispatch on a small machine. orjson writes the
same JSON text several times faster.

The two differ only at the edges, and there the standard library decides, so
the bytes on the wire and in the store mean the same whichever produced them:
integers beyond 64 bits and other values orjson refuses are encoded by
:mod:`json`; text orjson will not parse (``NaN``, which :mod:`json` writes for
a float NaN) is parsed by :mod:`json`. Dictionary keys that are not strings
become strings, as :mod:`json` does.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; stay usable without it
    orjson = None  # type: ignore[assignment]

_STD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # orjson.JSONEncodeError: too big an int, an odd type
            pass
    return _STD_ENCODER.encode(value).encode("utf-8")


def dumps_text(value: Any) -> str:
    """Compact JSON as text (for a text or jsonb column parameter)."""
    return dumps(value).decode("utf-8")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; raises ValueError (UnicodeDecodeError included) for bad input."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except ValueError:  # orjson.JSONDecodeError: retry what json also accepts (NaN)
            pass
    if isinstance(data, memoryview):
        data = data.tobytes()
    return json.loads(data)
