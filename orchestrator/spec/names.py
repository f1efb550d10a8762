"""The rule for job and queue names, apart from the spec reader so that a
read-only command checking a queue name (``jobctl queue stats NAME``) does not
import the whole spec reader (YAML, the model, every type's checks)."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_MAX = 128
