"""Dispatch: running the chunks of jobs on worker slots, exactly once.

Where things live: ``entry.py`` (run / serve), ``coordinator.py`` (the loop
that wires the rest), ``feeding.py`` (lease and send), ``slots.py`` (one
record per slot: start, watch, restart), ``renewal.py`` (heartbeats, lost
leases), ``ledger.py`` (tasks and the outcomes to commit), ``tracking.py``
(active jobs, admission, settlement), ``duties.py`` (the periodic chores),
``placement.py`` / ``scoring.py`` (which slot), ``preemption.py``,
``lifecycle.py`` / ``finalize.py`` (open, settle, publish), ``ssh_slots.py``
(SSH hosts as slots).
"""
