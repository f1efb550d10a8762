-- 0006: the small result a committed chunk reports with its outcome: a
-- sequential phase's carried state (``state``) and the processor's
-- ``ctx.result`` (``value``), which the next chunk or the next phase's
-- planner reads (orchestrator/strategies). Written in the same statement that
-- commits the chunk's part, so the state is exactly that of the committed output.
ALTER TABLE chunks ADD COLUMN result jsonb;
