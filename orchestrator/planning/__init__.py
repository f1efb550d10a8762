"""Input discovery, fingerprints and chunkers. No database I/O here."""
