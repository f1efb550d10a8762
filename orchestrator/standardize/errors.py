"""The error a standardization step raises for bad options or an unusable column."""

from __future__ import annotations

from orchestrator.errors import JobctlError


class StandardizeError(JobctlError, ValueError):
    """A step name, option or input type that a step cannot work with.

    The message names the step and the option; the spec layer adds file:line.
    """
