"""jobctl: a crash-safe batch orchestrator for one host or an SSH cluster."""

from __future__ import annotations

__version__ = "0.1.0"
