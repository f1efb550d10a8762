"""User code as a processor: ``python: package.module:function``.

The reference is resolved once per job on each worker (and once in the
coordinator by ``loader.check_processor``), so the import cost and any import-time
error are paid and reported once, not per chunk.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ProcessorError

if TYPE_CHECKING:
    from orchestrator.processors.base import Processor


def load_callable(ref: str, search_path: Sequence[str] = ()) -> Processor:
    """Import ``package.module:attr[.attr...]`` and return the callable it names.

    ``search_path`` (the spec's folder, see :func:`orchestrator.spec.local_paths.python_path`)
    is appended to ``sys.path`` first, so modules next to the spec import.
    """
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise ProcessorError(f"python processor {ref!r} must look like 'package.module:function'")
    sys.path.extend(folder for folder in search_path if folder not in sys.path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProcessorError(f"cannot import {ref!r}: {exc}") from exc
    except Exception as exc:
        # User code that fails while being imported (SyntaxError, a raise at top level).
        raise ProcessorError(f"cannot import {ref!r}: {type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ProcessorError(
                f"cannot import {ref!r}: {type(obj).__name__} {getattr(obj, '__name__', '?')!r} "
                f"has no attribute {part!r}"
            ) from None
    if not callable(obj):
        raise ProcessorError(f"{ref!r} is not callable (it is a {type(obj).__name__})")
    func: Processor = obj
    return func
