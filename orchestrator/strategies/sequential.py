"""``sequential``: one phase whose chunks run one at a time, in input order, carrying state.

The protocol (what the wiring implements; the pieces here are pure):

- Lease: a chunk of a serial phase is leasable only when every chunk of the
  phase with a smaller seq has succeeded (:func:`leasable_seq`): one chunk in
  flight per job, whatever the slot count, so output order is input order.
- State: the processor reads ``ctx.state`` (the state its predecessor left;
  None for the first chunk) and sets ``ctx.state = ...`` (JSON-able, at most
  :data:`MAX_STATE_BYTES` encoded). The worker reports it in the result as
  ``state``; it is committed WITH the chunk's outcome (same transaction as
  the part), so it is exactly the state of the committed output.
- Run message: the coordinator puts :func:`state_for` (the committed
  predecessor's ``state``) into the ``run`` message as ``state``; the worker
  hands it to the processor as ``ctx.state`` before the call.
- Crash: a killed attempt's state was never committed; the retry gets the
  same predecessor state again, so running totals or sessions continue
  exactly where the committed output stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.planning.model import ChunkDescriptor
from orchestrator.strategies.base import CommittedChunk, PhaseSpec, PlanContext, Strategy

#: Largest carried state (bytes of its JSON); a bigger state belongs in a part.
MAX_STATE_BYTES = 1024 * 1024


class Sequential(Strategy):
    def phase(self, index: int, planned: Mapping[str, Any]) -> PhaseSpec | None:
        return PhaseSpec(index=0, name="sequential", serial=True, of=1) if index == 0 else None

    def next_chunks(
        self, ctx: PlanContext, done: int, outcomes: Sequence[CommittedChunk]
    ) -> list[ChunkDescriptor] | None:
        return None


def leasable_seq(phase_seqs: Sequence[int], succeeded: Sequence[int]) -> int | None:
    """The one chunk of a serial phase that may run now: the smallest seq not
    yet succeeded (None when all did)."""
    done = set(succeeded)
    pending = [s for s in sorted(phase_seqs) if s not in done]
    return pending[0] if pending else None


def state_for(seq: int, outcomes: Sequence[CommittedChunk]) -> Any:
    """The state chunk ``seq`` starts from: its committed predecessor's (None for the first)."""
    before = [o for o in outcomes if o.seq < seq]
    if not before:
        return None
    return max(before, key=lambda o: o.seq).result.get("state")


def check_state(state: Any) -> None:
    """Raise TypeError/ValueError for a state that cannot be carried."""
    import json

    encoded = json.dumps(state)
    if len(encoded) > MAX_STATE_BYTES:
        raise ValueError(
            f"ctx.state is {len(encoded):,} bytes of JSON; at most {MAX_STATE_BYTES:,} are carried"
        )
