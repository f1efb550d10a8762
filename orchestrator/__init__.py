"""jobctl: a crash-safe batch orchestrator for one host or an SSH cluster."""

from __future__ import annotations

from orchestrator.errors import PermanentError

__version__ = "0.1.0"
__all__ = ["PermanentError", "__version__"]
