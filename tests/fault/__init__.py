"""Fault injection: real PostgreSQL, real processes, real signals."""
