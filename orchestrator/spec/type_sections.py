"""The parts of a job that depend on its type, read around the strategy.

``type: transform`` checks its params before the strategy is read (a
``partition_by`` makes it a map_reduce); ``steps:`` (any job) and the
``params`` of ``type: validate`` after it (a ``unique`` rule makes it a
map_reduce). One object keeps :mod:`.job_reader` to one line per side.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.checks import Checker
from orchestrator.spec.model import InputSpec
from orchestrator.spec.rules import read_validate
from orchestrator.spec.steps import read_steps
from orchestrator.spec.transform_params import read_transform_params
from orchestrator.spec.yaml_nodes import YMap


class TypedSections:
    """Readers of one job's type-specific sections (see the module docstring)."""

    def __init__(self, c: Checker, node: YMap, p: str, base_dir: str, job_type: str | None):
        self.c, self.node, self.p, self.base_dir, self.type = c, node, p, base_dir, job_type

    def params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The params as the job's type reads them (before the strategy)."""
        if self.type == "transform":
            node = self.node.get("params")
            return read_transform_params(self.c, node, f"{self.p}.params", self.base_dir, params)
        return params

    def after_strategy(
        self, source: InputSpec, params: dict[str, Any], strategy: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], tuple[dict[str, Any], ...]]:
        """The params, strategy fields and ``steps`` once the strategy is known."""
        c, p = self.c, self.p
        steps = read_steps(c, self.node.get("steps"), f"{p}.steps", source)
        if self.type == "validate":
            params, strategy = read_validate(
                c, self.node, p, self.base_dir, source, steps, strategy
            )
        return params, strategy, steps
