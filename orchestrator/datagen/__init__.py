"""Seeded synthetic data with known truth, for tests and benchmarks."""
