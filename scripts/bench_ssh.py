"""Issue 5's SSH benchmark lines: now the ``ssh`` scenario of ``scripts/bench``.

Kept so old notes still work; it runs ``bench/suite.py --only ssh --no-readme``
with any further arguments (``--quick``, ``--rounds N``). The scenario itself
(two loopback sshd hosts, no-op chunk overhead, push-mode MB/s beside
``ssh host 'cat > file'`` and a paramiko ``cat``) is in ``bench/suite.py`` and
``bench/ssh_hosts.py``. Prefer::

    scripts/bench --only ssh
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "bench" / "suite.py"

if __name__ == "__main__":
    argv = [sys.executable, str(SUITE), "--only", "ssh", "--no-readme", *sys.argv[1:]]
    os.execv(sys.executable, argv)
