"""``jobctl`` whose identity_match jobs cluster past one worker at a few edges.

    python -m tests.small_clusters 300 [hook=value ...] -- run jobs.yaml

Sets ``cluster_max_edges`` (a planned fact, stored with each job submitted by
this process, so a later plain ``jobctl resume`` keeps it) to the first
argument, installs the test hooks that follow (``tests/hooked.py``), then runs
the CLI: the partitioned clustering runs on a test's few thousand edges.
"""

from __future__ import annotations

import sys

import orchestrator.strategies.identity_match as identity_match
from tests.hooked import hooked_main


def small_main(argv: list[str]) -> int:
    identity_match.CLUSTER_MAX_EDGES = int(argv[0])
    return hooked_main(argv[1:])


if __name__ == "__main__":
    sys.exit(small_main(sys.argv[1:]))
