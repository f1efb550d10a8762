"""jobctl tests (a package, so ``tests.procs:...`` processor references resolve)."""
