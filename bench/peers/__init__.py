"""Peer runners: each script runs in bench/.peers-venv and prints one JSON line."""
