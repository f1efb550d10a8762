-- Named queries of the PostgreSQL dialect (orchestrator/store/core.py, fleet.py and
-- postgres.py run them by name; the portable ones are in common.sql).
--
-- Timestamps come from now(): the transaction's start on the server clock.
-- Lists are passed as arrays. State transitions are guarded in the WHERE
-- clause; a row not in an allowed source state is not changed. The batch
-- operations (lease, complete, release, reap, requeue, cancel) are one
-- statement each: data-modifying CTEs update the chunks, open or close their
-- attempt rows and append one event per chunk, in one round trip.

-- name: ping
-- Does the server answer?
SELECT 1 AS ok

-- name: migration_lock
-- Serialize migrators (and first use of an empty store) until commit.
SELECT pg_advisory_xact_lock(%(key)s)

-- name: ensure_migrations_table
-- Bootstrap: the table that records which migrations were applied.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: has_migrations_table
-- Whether the store was ever migrated.
SELECT to_regclass('schema_migrations') IS NOT NULL AS present

-- name: insert_migration
-- Record that migration %(version)s was applied.
INSERT INTO schema_migrations (version, applied_at) VALUES (%(version)s, now())

-- name: insert_job
-- Insert a job unless (name, run_key) exists; returns its id only when created.
-- A concurrent insert of the same key waits for the other transaction, then
-- does nothing: exactly one job is created.
INSERT INTO jobs (name, run_key, state, priority, queue, spec, spec_hash,
                  output_path, source_file)
VALUES (%(name)s, %(run_key)s, 'pending', %(priority)s, %(queue)s, %(spec)s::jsonb,
        %(spec_hash)s, %(output_path)s, %(source_file)s)
ON CONFLICT (name, run_key) DO NOTHING
RETURNING id

-- name: insert_input
-- One input fingerprint of a job: (job_id, idx, path, format, size, mtime_ns, sample_hash).
INSERT INTO job_inputs (job_id, idx, path, format, size, mtime_ns, sample_hash)
VALUES (%s, %s, %s, %s, %s, %s, %s)

-- name: copy_chunks
-- Bulk-load pending chunks: (job_id, seq, phase, kind, path, start, stop, est_rows, descriptor).
COPY chunks (job_id, seq, phase, kind, path, start, stop, est_rows, descriptor) FROM STDIN

-- name: insert_event
-- Append one audit event.
INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
VALUES (%(kind)s, %(job_id)s, %(chunk_id)s, %(user)s, %(host)s, %(pid)s, %(detail)s::jsonb)

-- name: list_jobs
-- Jobs newest first, optionally only those in %(states)s (NULL = all).
SELECT * FROM jobs
WHERE %(states)s::text[] IS NULL OR state = ANY(%(states)s::text[])
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s

-- name: job_state_for_update
-- The current state (and what a change reports: priority, spec hash) of a
-- job, locked until the end of the transaction.
SELECT state, priority, spec_hash FROM jobs WHERE id = %(job_id)s FOR UPDATE

-- name: update_job_state
-- Move a job to %(target)s only from an allowed source state.
-- started_at is set the first time it runs; finished_at on a terminal state,
-- cleared when it becomes active again; error replaced, or cleared on active.
-- A settlement claim ends with the state it led to.
UPDATE jobs SET
    state = %(target)s,
    settler = NULL,
    settle_until = NULL,
    started_at = CASE WHEN %(target)s = 'running' THEN coalesce(started_at, now())
                      ELSE started_at END,
    finished_at = CASE WHEN %(terminal)s THEN now() ELSE NULL END,
    error = CASE WHEN %(error)s::text IS NOT NULL THEN %(error)s::text
                 WHEN %(active)s THEN NULL ELSE error END
WHERE id = %(job_id)s AND state = ANY(%(sources)s::text[])
RETURNING *

-- name: list_chunks
-- Chunks of a job in seq order, optionally only in %(states)s; NULL limit = all.
SELECT * FROM chunks
WHERE job_id = %(job_id)s
  AND (%(states)s::text[] IS NULL OR state = ANY(%(states)s::text[]))
ORDER BY seq
LIMIT %(limit)s

-- name: lock_queue_limits
-- Before lease_chunks, in its transaction: lock the rows of the limited
-- queues of the running jobs %(job_ids)s until commit, in name order
-- (coordinators never deadlock). lease_chunks, the next statement, reads the
-- running chunks with a new snapshot that holds every lease committed by the
-- coordinator that held the lock before, so a limit holds across
-- coordinators. Returns the names locked.
SELECT q.name FROM queues q
WHERE q.concurrency_limit IS NOT NULL
  AND q.name IN (SELECT j.queue FROM jobs j
                 WHERE j.id = ANY(%(job_ids)s::bigint[]) AND j.state = 'running')
ORDER BY q.name
FOR UPDATE OF q

-- name: lease_chunks
-- Lease up to %(limit)s pending chunks of the running jobs %(job_ids)s whose
-- backoff has passed: highest priority first; at equal priority a fair share
-- (each job's k-th candidate takes turn "its running chunks + k", so the
-- jobs of one priority interleave and a job that holds many slots yields to
-- one that holds few; on a tie the job that has had fewer chunks go first),
-- then oldest job, then seq. Queues
-- gate it (a queue without a row is open and unlimited): a paused queue gives
-- nothing; a queue with a concurrency limit gives at most its limit minus its
-- running chunks, and only when lock_queue_limits locked its row in this
-- transaction (%(locked)s; a limit set since then gives nothing until the
-- next call). Each leased chunk becomes running with a new fencing token; an
-- attempt row and a chunk_leased event are written for each. SKIP LOCKED
-- lets concurrent coordinators take disjoint chunks without waiting for each
-- other.
WITH ordered_jobs AS (
    SELECT j.id, j.priority, j.created_at, j.queue,
           (SELECT coalesce(sum(cc.n), 0) FROM chunk_counts cc
            WHERE cc.job_id = j.id AND cc.state = 'running') AS running,
           (SELECT coalesce(sum(cc.n), 0) FROM chunk_counts cc
            WHERE cc.job_id = j.id AND cc.state <> 'pending') AS served,
           CASE WHEN q.concurrency_limit IS NULL THEN %(limit)s
                WHEN q.name <> ALL(%(locked)s::text[]) THEN 0
                ELSE least(%(limit)s, greatest(q.concurrency_limit - (
                    SELECT count(*) FROM chunks r JOIN jobs rj ON rj.id = r.job_id
                    WHERE r.state = 'running' AND rj.queue = q.name), 0))
           END AS room
    FROM jobs j LEFT JOIN queues q ON q.name = j.queue
    WHERE j.id = ANY(%(job_ids)s::bigint[]) AND j.state = 'running'
      AND q.paused IS NOT TRUE
), candidates AS (
    SELECT p.id, j.priority, j.created_at, j.id AS job_id, p.seq, j.queue, j.room,
           j.running + row_number() OVER (PARTITION BY j.id ORDER BY p.seq) AS turn,
           j.served + row_number() OVER (PARTITION BY j.id ORDER BY p.seq) AS served
    FROM ordered_jobs j
    CROSS JOIN LATERAL (
        SELECT c.id, c.seq FROM chunks c
        WHERE c.job_id = j.id AND c.state = 'pending'
          AND (c.not_before IS NULL OR c.not_before <= now())
          -- a serial phase (%(serial)s: 'job_id:phase'): only the chunk every
          -- smaller seq of the phase has succeeded before, one in flight
          AND ((c.job_id::text || ':' || c.phase::text) <> ALL(%(serial)s::text[])
               OR NOT EXISTS (SELECT 1 FROM chunks e
                              WHERE e.job_id = c.job_id AND e.phase = c.phase
                                AND e.seq < c.seq AND e.state <> 'succeeded'))
        ORDER BY c.seq
        LIMIT j.room
        FOR UPDATE SKIP LOCKED
    ) p
    WHERE j.room > 0
), picked AS (
    -- a limited queue's room is shared by its jobs: rank its candidates
    -- (unlimited queues skip the ranking: the hot path stays as cheap)
    SELECT id, priority, turn, served, created_at, job_id, seq FROM candidates
    WHERE room >= %(limit)s
    UNION ALL
    SELECT id, priority, turn, served, created_at, job_id, seq FROM (
        SELECT *, row_number() OVER (PARTITION BY queue
                                     ORDER BY priority DESC, turn, served, created_at, job_id, seq) AS nth
        FROM candidates WHERE room < %(limit)s
    ) ranked
    WHERE nth <= room
    ORDER BY priority DESC, turn, served, created_at, job_id, seq
    LIMIT %(limit)s
), leased AS (
    UPDATE chunks c SET
        state = 'running',
        fencing_token = c.fencing_token + 1,
        lease_owner = %(owner)s,
        lease_expires_at = now() + make_interval(secs => %(lease_seconds)s),
        not_before = NULL,
        updated_at = now()
    FROM picked
    WHERE c.id = picked.id AND c.state = 'pending'
    -- the fields of store.base.Lease, in its order (rows become Lease(*row))
    RETURNING c.id, c.job_id, c.seq, c.fencing_token, c.attempts, c.infra_attempts,
              c.descriptor, c.checkpoint
), opened AS (
    INSERT INTO attempts (chunk_id, job_id, fencing_token, owner)
    SELECT id, job_id, fencing_token, %(owner)s FROM leased
), logged AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT 'chunk_leased', l.job_id, l.id, %(user)s, %(host)s, %(pid)s,
           jsonb_build_object('owner', %(owner)s::text, 'fencing_token', l.fencing_token)
    FROM leased l
    ORDER BY l.id
)
SELECT l.* FROM leased l JOIN picked p ON p.id = l.id
ORDER BY p.priority DESC, p.turn, p.served, p.created_at, p.job_id, l.seq

-- name: renew_leases
-- Extend every running lease of %(owner)s to now + %(lease_seconds)s.
UPDATE chunks SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
WHERE lease_owner = %(owner)s AND state = 'running'

-- name: complete_chunks
-- Apply a batch of attempt outcomes. Each is accepted only if its chunk is
-- still running under the outcome's fencing token; accepted ones move to
-- their target state, close their attempt row and get one event. Returns
-- the accepted chunk ids. The batch is one JSON array of outcome objects
-- (cheaper to send than a dozen arrays); at most one outcome per chunk.
-- The rejected ones (a stale owner's late commit) get one
-- chunk_commit_rejected event each, with the chunk's state and token at that
-- moment (read under a share lock: the latest committed version, also when
-- a reap raced this commit), so they are visible in the log. One statement:
-- the call runs in autocommit, one round trip.
WITH v AS (
    SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS t(
        id bigint, token bigint, kind text, target text, delay float8, rows_in bigint,
        rows_out bigint, rows_rejected bigint, bytes_out bigint, checksum text,
        part_file text, error text, duration float8, worker text, event text, detail jsonb,
        result jsonb)
), done AS (
    UPDATE chunks c SET
        state = v.target,
        attempts = c.attempts + CASE WHEN v.kind = 'failed' THEN 1 ELSE 0 END,
        infra_attempts = c.infra_attempts + CASE WHEN v.kind = 'lost' THEN 1 ELSE 0 END,
        not_before = CASE WHEN v.kind = 'failed' AND v.target = 'pending'
                          THEN now() + make_interval(secs => greatest(v.delay, 0)) END,
        rows_in = CASE WHEN v.kind = 'succeeded' THEN v.rows_in ELSE c.rows_in END,
        rows_out = CASE WHEN v.kind = 'succeeded' THEN v.rows_out ELSE c.rows_out END,
        rows_rejected = CASE WHEN v.kind = 'succeeded' THEN v.rows_rejected
                             ELSE c.rows_rejected END,
        bytes_out = CASE WHEN v.kind = 'succeeded' THEN v.bytes_out ELSE c.bytes_out END,
        checksum = CASE WHEN v.kind = 'succeeded' THEN v.checksum ELSE c.checksum END,
        part_file = CASE WHEN v.kind = 'succeeded' THEN v.part_file ELSE c.part_file END,
        result = CASE WHEN v.kind = 'succeeded' THEN v.result ELSE c.result END,
        error = CASE WHEN v.kind = 'succeeded' THEN NULL ELSE coalesce(v.error, c.error) END,
        lease_owner = NULL,
        lease_expires_at = NULL,
        updated_at = now()
    FROM v
    WHERE c.id = v.id AND c.fencing_token = v.token AND c.state = 'running'
    RETURNING c.id, c.job_id, v.token, v.kind, v.error, v.part_file, v.rows_out,
              v.duration, v.worker, v.event, v.detail
), closed AS (
    UPDATE attempts a SET
        finished_at = now(), outcome = d.kind, error = d.error,
        part_file = d.part_file,
        rows_out = CASE WHEN d.kind = 'succeeded' THEN d.rows_out END,
        duration = d.duration, worker = coalesce(d.worker, a.worker)
    FROM done d
    WHERE a.chunk_id = d.id AND a.fencing_token = d.token AND a.finished_at IS NULL
), logged AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT d.event, d.job_id, d.id, %(user)s, %(host)s, %(pid)s, d.detail
    FROM done d
    ORDER BY d.id
), rejected AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT 'chunk_commit_rejected', c.job_id, c.id, %(user)s, %(host)s, %(pid)s,
           jsonb_build_object('owner', %(owner)s::text, 'fencing_token', v.token,
                              'outcome', v.kind, 'chunk_state', c.state,
                              'current_token', c.fencing_token, 'lease_owner', c.lease_owner)
    FROM v CROSS JOIN LATERAL (
        SELECT r.id, r.job_id, r.state, r.fencing_token, r.lease_owner FROM chunks r
        WHERE r.id = v.id
        FOR SHARE
    ) c
    WHERE NOT EXISTS (SELECT 1 FROM done d WHERE d.id = v.id)
    ORDER BY c.id
)
SELECT id FROM done

-- name: return_running
-- Running chunks back to pending, as one statement: those of %(owner)s (NULL:
-- any owner) whose lease expired when %(expired)s (else all of them), at
-- most %(limit)s (NULL: all), oldest expiry first. A graceful stop
-- (release_leases: 'released', no attempt spent), a reap ('expired') and a
-- reclaim of a coordinator proven gone ('orphaned') are this one move with
-- other parameters: %(infra_spent)s infra attempts added, attempt rows
-- closed as %(outcome)s, one %(event)s event each with %(reason)s. Chunks
-- locked by a concurrent commit are skipped (they are finishing); FOR UPDATE
-- re-checks state and expiry on the newest row version, and the UPDATE is
-- guarded by them again, so a chunk that committed meanwhile is never touched.
WITH victims AS (
    SELECT id, lease_owner FROM chunks
    WHERE state = 'running'
      AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s::text)
      AND (NOT %(expired)s OR lease_expires_at < now())
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE chunks c SET
        state = 'pending', lease_owner = NULL, lease_expires_at = NULL, not_before = NULL,
        infra_attempts = c.infra_attempts + %(infra_spent)s, updated_at = now()
    FROM victims v
    WHERE c.id = v.id AND c.state = 'running' AND c.lease_owner = v.lease_owner
      AND (NOT %(expired)s OR c.lease_expires_at < now())
    RETURNING c.id, c.job_id, c.fencing_token, v.lease_owner
), closed AS (
    UPDATE attempts a SET finished_at = now(), outcome = %(outcome)s::text,
        duration = extract(epoch FROM now() - a.started_at)
    FROM moved m
    WHERE a.chunk_id = m.id AND a.fencing_token = m.fencing_token AND a.finished_at IS NULL
), logged AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT %(event)s::text, m.job_id, m.id, %(user)s, %(host)s, %(pid)s,
           jsonb_build_object('owner', m.lease_owner, 'fencing_token', m.fencing_token,
                              'reason', %(reason)s::text)
    FROM moved m
    ORDER BY m.id
)
SELECT count(*) AS n FROM moved

-- name: move_job_chunks
-- The chunks of a job in %(sources)s (only those numbered %(seqs)s unless it
-- is NULL: the DLQ retry of single chunks) to %(target)s, as one statement:
-- 'cancelled' (with their job) or 'pending' (resume: counters, error and
-- backoff reset too); the lease cleared, open attempt rows closed as
-- %(outcome)s, one chunk_<outcome> event each saying where it came from.
-- Returns how many.
WITH victims AS (
    SELECT id, state FROM chunks
    WHERE job_id = %(job_id)s AND state = ANY(%(sources)s::text[])
      AND (%(seqs)s::int[] IS NULL OR seq = ANY(%(seqs)s::int[]))
    FOR UPDATE
), moved AS (
    UPDATE chunks c SET
        state = %(target)s::text,
        attempts = CASE WHEN %(target)s::text = 'pending' THEN 0 ELSE c.attempts END,
        infra_attempts = CASE WHEN %(target)s::text = 'pending' THEN 0
                              ELSE c.infra_attempts END,
        error = CASE WHEN %(target)s::text = 'pending' THEN NULL ELSE c.error END,
        not_before = CASE WHEN %(target)s::text = 'pending' THEN NULL ELSE c.not_before END,
        lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
    FROM victims v
    WHERE c.id = v.id AND c.state = ANY(%(sources)s::text[])
    RETURNING c.id, c.job_id, v.state AS from_state
), closed AS (
    UPDATE attempts a SET finished_at = now(), outcome = %(outcome)s::text,
        duration = extract(epoch FROM now() - a.started_at)
    FROM moved m
    WHERE a.chunk_id = m.id AND a.finished_at IS NULL
), logged AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT 'chunk_' || %(outcome)s::text, m.job_id, m.id, %(user)s, %(host)s, %(pid)s,
           jsonb_build_object('from', m.from_state)
    FROM moved m
    ORDER BY m.id
)
SELECT count(*) AS n FROM moved

-- name: save_checkpoint
-- Store a processor checkpoint if the lease %(token)s is still current.
UPDATE chunks SET checkpoint = %(checkpoint)s::jsonb, updated_at = now()
WHERE id = %(chunk_id)s AND fencing_token = %(token)s AND state = 'running'

-- name: create_database
-- Test and benchmark support: a new database cloned from a template (both
-- names are identifiers, composed in with psycopg.sql).
CREATE DATABASE {db} TEMPLATE {template}

-- name: create_empty_database
-- Test and benchmark support: a new empty database (name composed with psycopg.sql).
CREATE DATABASE {db}

-- name: drop_database
-- Test and benchmark support: drop a database, ending its sessions.
DROP DATABASE IF EXISTS {db} WITH (FORCE)

-- name: schema_columns
-- Introspection for the schema tests: every (table, column) of the store.
SELECT table_name::text AS table_name, column_name::text AS column_name
FROM information_schema.columns
WHERE table_schema = current_schema()
ORDER BY 1, 2

-- name: get_queue_for_update
-- A queue's row (paused, concurrency_limit), locked until commit; nothing
-- when the queue has no row (open, unlimited).
SELECT name, paused, concurrency_limit FROM queues WHERE name = %(name)s FOR UPDATE

-- name: queue_waits
-- Queue %(queue)s: the chunks first leased in the last %(since)s seconds, and
-- the mean and nearest-rank 95th percentile of their wait (seconds from
-- their job's submit to that first lease).
WITH first_leases AS (
    SELECT min(a.started_at) AS leased_at, j.created_at
    FROM jobs j JOIN attempts a ON a.job_id = j.id
    WHERE j.queue = %(queue)s
    GROUP BY a.chunk_id, j.created_at
), waits AS (
    SELECT extract(epoch FROM leased_at - created_at)::float8 AS wait
    FROM first_leases
    WHERE leased_at >= now() - make_interval(secs => %(since)s)
), ranked AS (
    SELECT wait, row_number() OVER (ORDER BY wait) AS nth, count(*) OVER () AS n FROM waits
)
SELECT (SELECT count(*) FROM waits) AS n,
       (SELECT avg(wait) FROM waits) AS mean,
       (SELECT wait FROM ranked WHERE nth = (n * 95 + 99) / 100) AS p95

-- name: queue_flow
-- Queue %(queue)s, attempts of the last %(since)s seconds: chunks that
-- succeeded and the rows they read; attempts that failed; attempts that
-- ended (succeeded, failed, or lost: lost, expired, orphaned; not those a
-- stop released, cancelled or requeued); retries (leases of a chunk that was
-- leased before).
WITH w AS (
    SELECT now() - make_interval(secs => %(since)s) AS since
), recent AS (
    SELECT a.chunk_id, a.fencing_token, a.outcome, a.started_at, a.finished_at
    FROM jobs j JOIN attempts a ON a.job_id = j.id, w
    WHERE j.queue = %(queue)s AND (a.started_at >= w.since OR a.finished_at >= w.since)
)
SELECT
    (SELECT count(*) FROM recent, w
     WHERE outcome = 'succeeded' AND finished_at >= w.since) AS succeeded,
    (SELECT coalesce(sum(c.rows_in), 0) FROM recent a JOIN chunks c ON c.id = a.chunk_id, w
     WHERE a.outcome = 'succeeded' AND a.finished_at >= w.since) AS rows_in,
    (SELECT count(*) FROM recent, w
     WHERE outcome = 'failed' AND finished_at >= w.since) AS failed,
    (SELECT count(*) FROM recent, w
     WHERE outcome IN ('succeeded', 'failed', 'lost', 'expired', 'orphaned')
       AND finished_at >= w.since) AS ended,
    (SELECT count(*) FROM recent a, w
     WHERE a.started_at >= w.since AND EXISTS (
         SELECT 1 FROM attempts b
         WHERE b.chunk_id = a.chunk_id AND b.fencing_token < a.fencing_token)) AS retries

-- name: insert_host
-- Register a host (state unknown); returns nothing when the name is taken.
INSERT INTO hosts (name, address, port, username, identity_file, python, workdir,
                   slots, pool, labels, env, state, state_changed_at)
VALUES (%(name)s, %(address)s, %(port)s, %(user)s, %(identity_file)s, %(python)s,
        %(workdir)s, %(slots)s, %(pool)s, %(labels)s::jsonb, %(env)s::jsonb, 'unknown', now())
ON CONFLICT (name) DO NOTHING
RETURNING name

-- name: update_host
-- Replace a host's connection settings; its state and statistics are kept.
UPDATE hosts SET address = %(address)s, port = %(port)s, username = %(user)s,
    identity_file = %(identity_file)s, python = %(python)s, workdir = %(workdir)s,
    slots = %(slots)s, pool = %(pool)s, labels = %(labels)s::jsonb, env = %(env)s::jsonb
WHERE name = %(name)s

-- name: get_host_for_update
-- One host by name, locked until the transaction ends (state changes).
SELECT * FROM hosts WHERE name = %(name)s FOR UPDATE

-- name: set_host_state
-- Move a host to :state with its reason, unless it is there already; with
-- :automatic (the coordinator's health view) a host a user put in
-- maintenance is left alone.
UPDATE hosts SET state = %(state)s, state_reason = %(reason)s, state_changed_at = now()
WHERE name = %(name)s AND state <> %(state)s
  AND NOT (%(automatic)s AND state = 'maintenance')

-- name: record_host_stats
-- A host heartbeat: load figures (NULL keeps the last), busy slots, and
-- successes/failures added to the running totals.
UPDATE hosts SET cpu = coalesce(%(cpu)s, cpu), mem = coalesce(%(mem)s, mem),
    load = coalesce(%(load)s, load), slots_in_use = %(slots_in_use)s, last_heartbeat = now(),
    successes = successes + %(successes)s, failures = failures + %(failures)s
WHERE name = %(name)s

-- ---------------------------------------------------------------------------
-- Fault tolerance: the coordinator registry, heartbeats, reclaiming the chunks
-- of a coordinator that is gone, the dead-letter queue, replanning.
-- ---------------------------------------------------------------------------

-- name: upsert_coordinator
-- Register %(owner)s (host, pid) or refresh its heartbeat: a row that a peer
-- removed while it thought this coordinator gone comes back.
INSERT INTO coordinators (owner, host, pid) VALUES (%(owner)s, %(host)s, %(pid)s)
ON CONFLICT (owner) DO UPDATE SET heartbeat_at = now(), host = EXCLUDED.host,
    pid = EXCLUDED.pid

-- name: renew_chunk_leases
-- Extend the leases (%(ids)s, %(tokens)s pairs) that %(owner)s still holds to
-- now + %(lease_seconds)s; return every chunk the owner holds (id, token), so
-- the caller sees at once which of its leases were lost and which it holds
-- without knowing. Row locks make a concurrent reap either wait (and then
-- find the lease renewed) or skip the row.
WITH renewed AS (
    UPDATE chunks c SET lease_expires_at = now() + make_interval(secs => %(lease_seconds)s)
    FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[]) AS l(id, token)
    WHERE c.id = l.id AND c.fencing_token = l.token AND c.state = 'running'
      AND c.lease_owner = %(owner)s
    RETURNING c.id
)
SELECT id, fencing_token FROM chunks WHERE lease_owner = %(owner)s AND state = 'running'

-- name: registered_coordinators
-- Every registered coordinator (the registry: run, resume, serve) and the age
-- of its last heartbeat by the database clock; no chunk count.
SELECT owner, 0 AS chunks, host, pid, extract(epoch FROM now() - heartbeat_at)::float8 AS heartbeat_age
FROM coordinators ORDER BY owner

-- name: job_coordinators
-- The registered coordinators linked to these jobs, with the job id and the
-- age of their last heartbeat by the database clock (0007).
SELECT l.job_id, k.owner, 0 AS chunks, k.host, k.pid,
       extract(epoch FROM now() - k.heartbeat_at)::float8 AS heartbeat_age
FROM coordinator_jobs l JOIN coordinators k ON k.owner = l.owner
WHERE l.job_id = ANY(%(job_ids)s::bigint[])

-- name: lease_owners
-- Every owner of running chunks with its registry row (NULL when it has none)
-- and the age of its last heartbeat by the database clock.
SELECT c.lease_owner AS owner, count(*) AS chunks, k.host, k.pid,
       extract(epoch FROM now() - k.heartbeat_at)::float8 AS heartbeat_age
FROM chunks c LEFT JOIN coordinators k ON k.owner = c.lease_owner
WHERE c.state = 'running' AND c.lease_owner IS NOT NULL
GROUP BY c.lease_owner, k.host, k.pid, k.heartbeat_at
ORDER BY c.lease_owner

-- name: dead_chunks
-- The dead-letter queue: dead chunks of one job (%(job_id)s) or of all jobs
-- (NULL), by job and seq.
SELECT * FROM chunks
WHERE state = 'dead' AND (%(job_id)s::bigint IS NULL OR job_id = %(job_id)s::bigint)
ORDER BY job_id, seq
LIMIT %(limit)s

-- name: purge_dead
-- Give up on the dead chunks of a job: dead -> cancelled, one chunk_purged
-- event each (with the last error). Returns how many.
WITH victims AS (
    SELECT id, error FROM chunks
    WHERE job_id = %(job_id)s AND state = 'dead'
    FOR UPDATE
), moved AS (
    UPDATE chunks c SET state = 'cancelled', updated_at = now()
    FROM victims v
    WHERE c.id = v.id AND c.state = 'dead'
    RETURNING c.id, c.job_id, v.error
), logged AS (
    INSERT INTO events (kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
    SELECT 'chunk_purged', m.job_id, m.id, %(user)s, %(host)s, %(pid)s,
           jsonb_build_object('from', 'dead', 'error', m.error)
    FROM moved m
    ORDER BY m.id
)
SELECT count(*) AS n FROM moved

-- name: update_job_plan
-- Replan: the job's new spec and spec hash; its error is cleared.
UPDATE jobs SET spec = %(spec)s::jsonb, spec_hash = %(spec_hash)s, error = NULL
WHERE id = %(job_id)s

-- name: terminate_sessions
-- Fault tests: end every other session of this database whose application
-- name is %(application)s (what pg_terminate_backend does to a coordinator).
SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND application_name = %(application)s

-- == scheduling: dependencies, serve, priorities, settlement ==================

-- name: insert_job_deps
-- depends_on: the upstream jobs of a new job (in the job's own transaction).
INSERT INTO job_deps (job_id, upstream_id)
SELECT %(job_id)s, u FROM unnest(%(upstream_ids)s::bigint[]) AS u
ON CONFLICT DO NOTHING

-- name: runnable_jobs
-- serve: active jobs of the queues %(queues)s (NULL: every queue) none of
-- whose upstream jobs is unfinished or failed; highest priority first, then
-- oldest. A job whose upstream failed is left to blocked_jobs.
SELECT j.id FROM jobs j
WHERE j.state IN ('pending', 'running')
  AND (%(queues)s::text[] IS NULL OR j.queue = ANY(%(queues)s::text[]))
  AND NOT EXISTS (
      SELECT 1 FROM job_deps d JOIN jobs u ON u.id = d.upstream_id
      WHERE d.job_id = j.id AND u.state <> 'succeeded')
ORDER BY j.priority DESC, j.created_at, j.id
LIMIT %(limit)s

-- name: blocked_jobs
-- Pending jobs with an upstream job that ended without success, and which.
SELECT d.job_id, string_agg(u.name || ' (' || u.state || ')', ', ' ORDER BY u.id) AS upstream
FROM job_deps d
JOIN jobs j ON j.id = d.job_id
JOIN jobs u ON u.id = d.upstream_id
WHERE j.state = 'pending'
  AND u.state IN ('failed', 'cancelled', 'upstream_failed', 'rolled_back')
GROUP BY d.job_id
ORDER BY d.job_id

-- name: claim_settlement
-- One coordinator at a time settles (publishes) a finished job: the claim is
-- taken when free, expired, already ours, or held by %(take_from)s (a
-- claimant the caller proved gone). Returns the job id when taken.
UPDATE jobs SET settler = %(owner)s,
    settle_until = now() + make_interval(secs => %(seconds)s)
WHERE id = %(job_id)s AND state = 'running'
  AND (settler IS NULL OR settler = %(owner)s OR settle_until < now()
       OR settler = %(take_from)s::text)
RETURNING id

-- name: settlement_holder
-- Who holds a running job's settlement claim, with its registry row (NULL
-- when it has none), in the columns of lease_owners.
SELECT j.settler AS owner, 0 AS chunks, k.host, k.pid,
       extract(epoch FROM now() - k.heartbeat_at)::float8 AS heartbeat_age
FROM jobs j LEFT JOIN coordinators k ON k.owner = j.settler
WHERE j.id = %(job_id)s AND j.state = 'running' AND j.settler IS NOT NULL

-- name: get_jobs
-- Several jobs by id (the dispatcher's periodic look at what it serves).
SELECT * FROM jobs WHERE id = ANY(%(job_ids)s::bigint[]) ORDER BY id

-- name: notify_jobs
-- Wake every `jobctl serve` listening: a job was submitted or changed.
SELECT pg_notify('jobctl_jobs', %(payload)s::text)

-- name: listen_jobs
-- A `serve` listens for submitted and changed jobs.
LISTEN jobctl_jobs

-- name: insert_attempt_log
-- Keep what one attempt printed and logged (a batch sent again after an
-- uncertain commit inserts nothing twice).
INSERT INTO attempt_logs (job_id, chunk_id, seq, attempt, fencing_token, worker, outcome,
                          error, traceback, output, output_bytes)
VALUES (%(job_id)s, %(chunk_id)s, %(seq)s, %(attempt)s, %(fencing_token)s, %(worker)s,
        %(outcome)s, %(error)s, %(traceback)s, %(output)s, %(output_bytes)s)
ON CONFLICT (chunk_id, fencing_token) DO NOTHING

-- name: prune_attempt_logs
-- Drop all but the newest %(keep)s attempt logs of each chunk of a job.
DELETE FROM attempt_logs WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY chunk_id ORDER BY id DESC) AS n
        FROM attempt_logs WHERE job_id = ANY(%(job_ids)s)
    ) ranked WHERE n > %(keep)s)

-- name: attempt_logs
-- A job's attempt logs, oldest first; only chunk %(seq)s / attempt %(attempt)s
-- when given; only those after id %(after_id)s (a follower's position).
SELECT * FROM attempt_logs
WHERE job_id = %(job_id)s AND id > %(after_id)s
  AND (%(seq)s::integer IS NULL OR seq = %(seq)s)
  AND (%(attempt)s::integer IS NULL OR attempt = %(attempt)s)
ORDER BY id
LIMIT %(limit)s
