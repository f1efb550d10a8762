"""User code as a processor: ``python: package.module:function``.

The reference is resolved once per job on each worker (and once in the
coordinator by ``loader.check_processor``), so the import cost and any import-time
error are paid and reported once, not per chunk.

The module may also export ``setup(ctx)`` and ``teardown()``
(:func:`module_hooks`): the worker runs ``setup`` once per worker process per
job, before its first chunk there, and hands what it returned to every chunk
as ``ctx.resources`` (a model loaded from a local path, a warmed cache);
``teardown`` runs when the worker drops the job or exits. The coordinator's
early check imports the module but never runs ``setup``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ProcessorError

if TYPE_CHECKING:
    from orchestrator.processors.base import Processor, SetupContext


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


@dataclass(frozen=True)
class Hooks:
    """A processor module's optional once-per-worker hooks."""

    setup: Callable[[SetupContext], Any] | None = None
    teardown: Callable[[], Any] | None = None


NO_HOOKS = Hooks()


def module_hooks(module_name: str) -> Hooks:
    """``setup``/``teardown`` of an already imported module (absent: None);
    an attribute of that name that is not callable is an error, not ignored."""
    module = sys.modules[module_name]
    found: dict[str, Any] = {}
    for name in ("setup", "teardown"):
        hook = getattr(module, name, None)
        if hook is not None and not callable(hook):
            raise ProcessorError(
                f"{module_name}.{name} must be a function, not {type(hook).__name__}"
            )
        found[name] = hook
    return Hooks(**found) if any(found.values()) else NO_HOOKS
