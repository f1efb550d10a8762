"""Benchmarks of jobctl against its peers (not part of the package)."""
