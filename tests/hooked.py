"""The test suite's way to run `jobctl` with test hooks (orchestrator/dispatch/hooks.py).

    python -m tests.hooked hold_commit=3 -- run jobs.yaml --run-key k1

The hooks before ``--`` are installed in this process, then the CLI runs the
rest: hooks are never read from the environment a production run inherits.
"""

from __future__ import annotations

import sys

from orchestrator.cli.app import main
from orchestrator.dispatch.hooks import TestHooks, install


def hooked_main(argv: list[str]) -> int:
    split = argv.index("--")
    install(TestHooks.parse(argv[:split]))
    return main(argv[split + 1 :])


if __name__ == "__main__":
    sys.exit(hooked_main(sys.argv[1:]))
