-- Named queries of the SQLite dialect (orchestrator/store/core.py, fleet.py and
-- sqlite.py run them by name; the portable ones are in common.sql).
--
-- Timestamps are REAL unix seconds. Every write transaction reads the
-- database clock once (query `now`) and passes it as :now, so one
-- transaction has one time. Lists of ids or states are passed as JSON
-- arrays and read with json_each. State transitions are guarded in the
-- WHERE clause: a row not in an allowed source state is not changed.

-- name: configure_connection
-- Per-connection settings: fsync only at checkpoints (with WAL a crash loses
-- no committed transaction on an intact disk), foreign keys enforced.
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;

-- name: enable_wal
-- Write-ahead log: readers never block the writer. Persistent in the file,
-- so only the first open of a new file changes anything.
PRAGMA journal_mode = WAL

-- name: begin_write
-- Start a write transaction holding the write lock from its first statement.
BEGIN IMMEDIATE

-- name: begin_read
-- Start a read transaction: one consistent snapshot for several queries.
BEGIN

-- name: commit
-- Commit the transaction.
COMMIT

-- name: rollback
-- Roll the transaction back.
ROLLBACK

-- name: now
-- The database clock as unix seconds with sub-second precision.
SELECT (julianday('now') - 2440587.5) * 86400.0 AS now

-- name: ensure_migrations_table
-- Bootstrap: the table that records which migrations were applied.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at REAL NOT NULL
)

-- name: has_migrations_table
-- Whether the store was ever migrated (an empty file has no tables).
SELECT count(*) AS present FROM sqlite_master
WHERE type = 'table' AND name = 'schema_migrations'

-- name: insert_migration
-- Record that migration :version was applied.
INSERT INTO schema_migrations (version, applied_at) VALUES (:version, :now)

-- name: insert_job
-- Insert a job unless (name, run_key) exists; returns its id only when created.
INSERT INTO jobs (name, run_key, state, priority, queue, spec, spec_hash,
                  output_path, source_file, created_at)
VALUES (:name, :run_key, 'pending', :priority, :queue, :spec, :spec_hash,
        :output_path, :source_file, :now)
ON CONFLICT (name, run_key) DO NOTHING
RETURNING id

-- name: insert_input
-- One input fingerprint of a job: (job_id, idx, path, format, size, mtime_ns, sample_hash).
INSERT INTO job_inputs (job_id, idx, path, format, size, mtime_ns, sample_hash)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: insert_chunk
-- One pending chunk: (job_id, seq, phase, kind, path, start, stop, est_rows, descriptor, now).
INSERT INTO chunks (job_id, seq, phase, kind, path, start, stop, est_rows, descriptor,
                    state, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)

-- name: count_inserted_chunks
-- The pending chunks just inserted by insert_chunk, counted (migration 0008).
INSERT INTO chunk_counts VALUES (:job_id, 'pending', :n, 0, 0, 0, 0, 0)
ON CONFLICT (job_id, state) DO UPDATE SET n = n + excluded.n

-- name: insert_event
-- Append one audit event.
INSERT INTO events (at, kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
VALUES (:now, :kind, :job_id, :chunk_id, :user, :host, :pid, :detail)

-- name: list_jobs
-- Jobs newest first, optionally only those in :states (JSON array or NULL).
SELECT * FROM jobs
WHERE :states IS NULL OR state IN (SELECT value FROM json_each(:states))
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: job_state_for_update
-- The current state (and what a change reports: priority, spec hash) of a
-- job; the write transaction's lock keeps it until commit.
SELECT state, priority, spec_hash FROM jobs WHERE id = :job_id

-- name: update_job_state
-- Move a job to :target only from an allowed source state (:sources, JSON).
-- started_at is set the first time it runs; finished_at on a terminal state,
-- cleared when it becomes active again; error replaced, or cleared on active.
-- A settlement claim ends with the state it led to.
UPDATE jobs SET
    state = :target,
    settler = NULL,
    settle_until = NULL,
    started_at = CASE WHEN :target = 'running' THEN coalesce(started_at, :now)
                      ELSE started_at END,
    finished_at = CASE WHEN :terminal THEN :now ELSE NULL END,
    error = CASE WHEN :error IS NOT NULL THEN :error
                 WHEN :active THEN NULL ELSE error END
WHERE id = :job_id AND state IN (SELECT value FROM json_each(:sources))
RETURNING *

-- name: list_chunks
-- Chunks of a job in seq order, optionally only in :states; :limit -1 = all.
SELECT * FROM chunks
WHERE job_id = :job_id
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
ORDER BY seq
LIMIT :limit

-- name: chunks_in_states
-- The chunks of a job in :states (JSON), only those numbered :seqs (JSON)
-- unless it is NULL, with what their events need.
SELECT id, job_id, state, fencing_token, lease_owner FROM chunks
WHERE job_id = :job_id AND state IN (SELECT value FROM json_each(:states))
  AND (:seqs IS NULL OR seq IN (SELECT value FROM json_each(:seqs)))
ORDER BY seq

-- name: running_jobs_by_priority
-- Of the jobs :job_ids (JSON), those running whose queue is not paused, in
-- lease order (priority, age), with their running and served chunks (the fair share at
-- equal priority: store/fairshare.py) and their queue's room: its concurrency
-- limit minus its running chunks, NULL when it has no limit (a queue without
-- a row is open and unlimited). The write lock of the lease transaction
-- keeps the count true until it commits.
SELECT j.id, j.queue, j.priority,
       (SELECT coalesce(sum(cc.n), 0) FROM chunk_counts cc
        WHERE cc.job_id = j.id AND cc.state = 'running') AS running,
       (SELECT coalesce(sum(cc.n), 0) FROM chunk_counts cc
        WHERE cc.job_id = j.id AND cc.state <> 'pending') AS served,
       CASE WHEN q.concurrency_limit IS NOT NULL
            THEN max(q.concurrency_limit - (
                SELECT count(*) FROM chunks r JOIN jobs rj ON rj.id = r.job_id
                WHERE r.state = 'running' AND rj.queue = q.name), 0)
       END AS room
FROM jobs j LEFT JOIN queues q ON q.name = j.queue
WHERE j.id IN (SELECT value FROM json_each(:job_ids)) AND j.state = 'running'
  AND coalesce(q.paused, 0) = 0
ORDER BY j.priority DESC, j.created_at, j.id

-- name: lease_job_chunks
-- Lease the next :limit pending chunks of one job whose backoff has passed:
-- running, a new fencing token, the owner and the expiry.
UPDATE chunks SET
    state = 'running',
    fencing_token = fencing_token + 1,
    lease_owner = :owner,
    lease_expires_at = :now + :lease_seconds,
    not_before = NULL,
    updated_at = :now
WHERE id IN (
    SELECT c.id FROM chunks c
    WHERE c.job_id = :job_id AND c.state = 'pending'
      AND (c.not_before IS NULL OR c.not_before <= :now)
      -- a serial phase (:serial, a JSON list of this job's serial phases):
      -- only the chunk every smaller seq of its phase has succeeded before
      AND (c.phase NOT IN (SELECT value FROM json_each(:serial))
           OR NOT EXISTS (SELECT 1 FROM chunks e
                          WHERE e.job_id = c.job_id AND e.phase = c.phase
                            AND e.seq < c.seq AND e.state <> 'succeeded'))
    ORDER BY c.seq
    LIMIT :limit
)
RETURNING id, job_id, seq, fencing_token, attempts, infra_attempts, descriptor, checkpoint

-- name: insert_attempt
-- Open the attempt row of a new lease: (chunk_id, job_id, fencing_token, owner, now).
INSERT INTO attempts (chunk_id, job_id, fencing_token, owner, started_at)
VALUES (?, ?, ?, ?, ?)

-- name: insert_event_row
-- Append one audit event: (at, kind, job_id, chunk_id, user, host, pid, detail).
INSERT INTO events (at, kind, job_id, chunk_id, actor_user, actor_host, actor_pid, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- name: renew_leases
-- Extend every running lease of :owner to now + :lease_seconds.
UPDATE chunks SET lease_expires_at = :now + :lease_seconds
WHERE lease_owner = :owner AND state = 'running'

-- name: complete_chunk
-- Apply one attempt outcome (rows.outcome_row) if the chunk is still running
-- under :token: :target is where it leads (succeeded, pending, dead,
-- cancelled); failed spends an attempt and waits :delay s, lost spends an
-- infra attempt; counts, checksum and part file are kept only on success.
UPDATE chunks SET
    state = :target,
    attempts = attempts + (:kind = 'failed'),
    infra_attempts = infra_attempts + (:kind = 'lost'),
    not_before = CASE WHEN :kind = 'failed' AND :target = 'pending' THEN :now + :delay END,
    rows_in = CASE WHEN :kind = 'succeeded' THEN :rows_in ELSE rows_in END,
    rows_out = CASE WHEN :kind = 'succeeded' THEN :rows_out ELSE rows_out END,
    rows_rejected = CASE WHEN :kind = 'succeeded' THEN :rows_rejected ELSE rows_rejected END,
    bytes_out = CASE WHEN :kind = 'succeeded' THEN :bytes_out ELSE bytes_out END,
    checksum = CASE WHEN :kind = 'succeeded' THEN :checksum ELSE checksum END,
    part_file = CASE WHEN :kind = 'succeeded' THEN :part_file ELSE part_file END,
    result = CASE WHEN :kind = 'succeeded' THEN :result ELSE result END,
    error = CASE WHEN :kind = 'succeeded' THEN NULL ELSE coalesce(:error, error) END,
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = :now
WHERE id = :id AND fencing_token = :token AND state = 'running'
RETURNING job_id

-- name: close_attempt
-- Close the attempt row of (:id, :token) with its outcome.
UPDATE attempts SET
    finished_at = :now, outcome = :kind, error = :error, part_file = :part_file,
    rows_out = CASE WHEN :kind = 'succeeded' THEN :rows_out END,
    duration = :duration, worker = coalesce(:worker, worker)
WHERE chunk_id = :id AND fencing_token = :token AND finished_at IS NULL

-- name: close_open_attempts
-- Close the open attempt rows of the chunks :chunk_ids (JSON) with :outcome.
UPDATE attempts SET finished_at = :now, outcome = :outcome,
    duration = :now - started_at
WHERE chunk_id IN (SELECT value FROM json_each(:chunk_ids)) AND finished_at IS NULL

-- name: running_of_owner
-- The running chunks leased by :owner.
SELECT id, job_id, state, fencing_token, lease_owner FROM chunks
WHERE lease_owner = :owner AND state = 'running'

-- name: expired_leases
-- Running chunks whose lease expired, oldest expiry first.
SELECT id, job_id, state, fencing_token, lease_owner, lease_expires_at FROM chunks
WHERE state = 'running' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT :limit

-- name: return_to_pending
-- Running chunks :chunk_ids (JSON) back to pending, lease cleared; :infra_spent
-- is added to infra_attempts. Only chunks still running are touched.
UPDATE chunks SET
    state = 'pending', lease_owner = NULL, lease_expires_at = NULL, not_before = NULL,
    infra_attempts = infra_attempts + :infra_spent, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:chunk_ids)) AND state = 'running'

-- name: move_chunks
-- Chunks :chunk_ids (JSON) still in an allowed source state (:sources) to
-- :target: 'cancelled' (with their job), or 'pending' (resume: counters,
-- error and backoff reset too); the lease cleared.
UPDATE chunks SET
    state = :target,
    attempts = CASE WHEN :target = 'pending' THEN 0 ELSE attempts END,
    infra_attempts = CASE WHEN :target = 'pending' THEN 0 ELSE infra_attempts END,
    error = CASE WHEN :target = 'pending' THEN NULL ELSE error END,
    not_before = CASE WHEN :target = 'pending' THEN NULL ELSE not_before END,
    lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:chunk_ids))
  AND state IN (SELECT value FROM json_each(:sources))

-- name: save_checkpoint
-- Store a processor checkpoint if the lease :token is still current.
UPDATE chunks SET checkpoint = :checkpoint, updated_at = :now
WHERE id = :chunk_id AND fencing_token = :token AND state = 'running'

-- name: schema_columns
-- Introspection for the schema tests: every (table, column) of the store.
SELECT m.name AS table_name, p.name AS column_name
FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
WHERE m.type = 'table' AND m.name NOT IN ('sqlite_sequence')
ORDER BY 1, 2

-- name: get_queue_for_update
-- get_queue inside a write transaction (its lock keeps the row until commit).
SELECT name, paused, concurrency_limit FROM queues WHERE name = :name

-- name: queue_waits
-- Queue :queue: the chunks first leased since (:now - :since), and the mean and
-- nearest-rank 95th percentile of their wait (seconds from their job's
-- submit to that first lease).
WITH first_leases AS (
    SELECT min(a.started_at) AS leased_at, j.created_at
    FROM jobs j JOIN attempts a ON a.job_id = j.id
    WHERE j.queue = :queue
    GROUP BY a.chunk_id, j.created_at
), waits AS (
    SELECT leased_at - created_at AS wait FROM first_leases WHERE leased_at >= (:now - :since)
), ranked AS (
    SELECT wait, row_number() OVER (ORDER BY wait) AS nth, count(*) OVER () AS n FROM waits
)
SELECT (SELECT count(*) FROM waits) AS n,
       (SELECT avg(wait) FROM waits) AS mean,
       (SELECT wait FROM ranked WHERE nth = (n * 95 + 99) / 100) AS p95

-- name: queue_flow
-- Queue :queue, attempts since (:now - :since): chunks that succeeded and the rows
-- they read; attempts that failed; attempts that ended (succeeded, failed,
-- or lost: lost, expired, orphaned; not those a stop released, cancelled or
-- requeued); retries (leases of a chunk that was leased before).
WITH recent AS (
    SELECT a.chunk_id, a.fencing_token, a.outcome, a.started_at, a.finished_at
    FROM jobs j JOIN attempts a ON a.job_id = j.id
    WHERE j.queue = :queue AND (a.started_at >= (:now - :since) OR a.finished_at >= (:now - :since))
)
SELECT
    (SELECT count(*) FROM recent
     WHERE outcome = 'succeeded' AND finished_at >= (:now - :since)) AS succeeded,
    (SELECT coalesce(sum(c.rows_in), 0) FROM recent a JOIN chunks c ON c.id = a.chunk_id
     WHERE a.outcome = 'succeeded' AND a.finished_at >= (:now - :since)) AS rows_in,
    (SELECT count(*) FROM recent
     WHERE outcome = 'failed' AND finished_at >= (:now - :since)) AS failed,
    (SELECT count(*) FROM recent
     WHERE outcome IN ('succeeded', 'failed', 'lost', 'expired', 'orphaned')
       AND finished_at >= (:now - :since)) AS ended,
    (SELECT count(*) FROM recent a
     WHERE a.started_at >= (:now - :since) AND EXISTS (
         SELECT 1 FROM attempts b
         WHERE b.chunk_id = a.chunk_id AND b.fencing_token < a.fencing_token)) AS retries

-- name: insert_host
-- Register a host (state unknown); returns nothing when the name is taken.
INSERT INTO hosts (name, address, port, username, identity_file, python, workdir,
                   slots, pool, labels, env, state, state_changed_at)
VALUES (:name, :address, :port, :user, :identity_file, :python, :workdir,
        :slots, :pool, :labels, :env, 'unknown', :now)
ON CONFLICT (name) DO NOTHING
RETURNING name

-- name: update_host
-- Replace a host's connection settings; its state and statistics are kept.
UPDATE hosts SET address = :address, port = :port, username = :user,
    identity_file = :identity_file, python = :python, workdir = :workdir,
    slots = :slots, pool = :pool, labels = :labels, env = :env
WHERE name = :name

-- name: get_host_for_update
-- get_host inside a write transaction (its lock keeps the row until commit).
SELECT * FROM hosts WHERE name = :name

-- name: set_host_state
-- Move a host to :state with its reason, unless it is there already; with
-- :automatic (the coordinator's health view) a host a user put in
-- maintenance is left alone.
UPDATE hosts SET state = :state, state_reason = :reason, state_changed_at = :now
WHERE name = :name AND state <> :state AND NOT (:automatic AND state = 'maintenance')

-- name: record_host_stats
-- A host heartbeat: load figures (NULL keeps the last), busy slots, and
-- successes/failures added to the running totals.
UPDATE hosts SET cpu = coalesce(:cpu, cpu), mem = coalesce(:mem, mem),
    load = coalesce(:load, load), slots_in_use = :slots_in_use, last_heartbeat = :now,
    successes = successes + :successes, failures = failures + :failures
WHERE name = :name

-- ---------------------------------------------------------------------------
-- Fault tolerance: the coordinator registry, heartbeats, reclaiming the chunks
-- of a coordinator that is gone, the dead-letter queue, replanning.
-- ---------------------------------------------------------------------------

-- name: upsert_coordinator
-- Register :owner (host, pid) or refresh its heartbeat: a row that a peer
-- removed while it thought this coordinator gone comes back.
INSERT INTO coordinators (owner, host, pid, started_at, heartbeat_at)
VALUES (:owner, :host, :pid, :now, :now)
ON CONFLICT (owner) DO UPDATE SET heartbeat_at = :now, host = excluded.host,
    pid = excluded.pid

-- name: renew_chunk_leases
-- Extend the leases :owner still holds to now + :lease_seconds; :leases is a
-- JSON object {"chunk id": fencing token}, so a lease is renewed only under
-- the token the caller holds.
UPDATE chunks SET lease_expires_at = :now + :lease_seconds
WHERE lease_owner = :owner AND state = 'running'
  AND json_extract(:leases, '$."' || id || '"') = fencing_token

-- name: registered_coordinators
-- Every registered coordinator (the registry: run, resume, serve) and the age
-- of its last heartbeat by the database clock; no chunk count.
SELECT owner, 0 AS chunks, host, pid, :now - heartbeat_at AS heartbeat_age
FROM coordinators ORDER BY owner

-- name: job_coordinators
-- The registered coordinators linked to these jobs (JSON list), with the job
-- id and the age of their last heartbeat by the database clock (0007).
SELECT l.job_id AS job_id, k.owner AS owner, 0 AS chunks, k.host AS host, k.pid AS pid,
       :now - k.heartbeat_at AS heartbeat_age
FROM coordinator_jobs l JOIN coordinators k ON k.owner = l.owner
WHERE l.job_id IN (SELECT value FROM json_each(:job_ids))

-- name: lease_owners
-- Every owner of running chunks with its registry row (NULL when it has none)
-- and the age of its last heartbeat by the database clock.
SELECT c.lease_owner AS owner, count(*) AS chunks, k.host AS host, k.pid AS pid,
       :now - k.heartbeat_at AS heartbeat_age
FROM chunks c LEFT JOIN coordinators k ON k.owner = c.lease_owner
WHERE c.state = 'running' AND c.lease_owner IS NOT NULL
GROUP BY c.lease_owner, k.host, k.pid, k.heartbeat_at
ORDER BY c.lease_owner

-- name: chunk_fence
-- What a rejected outcome met: the chunk's job, state, token and owner.
SELECT id, job_id, state, fencing_token, lease_owner FROM chunks WHERE id = :id

-- name: dead_chunks
-- The dead-letter queue: dead chunks of one job (:job_id) or of all jobs
-- (NULL), by job and seq; :limit -1 = all.
SELECT * FROM chunks
WHERE state = 'dead' AND (:job_id IS NULL OR job_id = :job_id)
ORDER BY job_id, seq
LIMIT :limit

-- name: purge_dead_victims
-- The dead chunks of a job, with their last error.
SELECT id, job_id, error FROM chunks WHERE job_id = :job_id AND state = 'dead' ORDER BY seq

-- name: purge_dead
-- Give up on the dead chunks of a job: dead -> cancelled.
UPDATE chunks SET state = 'cancelled', updated_at = :now
WHERE job_id = :job_id AND state = 'dead'

-- name: update_job_plan
-- Replan: the job's new spec and spec hash; its error is cleared.
UPDATE jobs SET spec = :spec, spec_hash = :spec_hash, error = NULL WHERE id = :job_id

-- == scheduling: dependencies, serve, priorities, settlement ==================

-- name: insert_job_deps
-- depends_on: the upstream jobs (:upstream_ids, JSON) of a new job (in the
-- job's own transaction).
INSERT OR IGNORE INTO job_deps (job_id, upstream_id)
SELECT :job_id, value FROM json_each(:upstream_ids)

-- name: runnable_jobs
-- serve: active jobs of the queues :queues (JSON; NULL: every queue) none of
-- whose upstream jobs is unfinished or failed; highest priority first, then
-- oldest. A job whose upstream failed is left to blocked_jobs.
SELECT j.id FROM jobs j
WHERE j.state IN ('pending', 'running')
  AND (:queues IS NULL OR j.queue IN (SELECT value FROM json_each(:queues)))
  AND NOT EXISTS (
      SELECT 1 FROM job_deps d JOIN jobs u ON u.id = d.upstream_id
      WHERE d.job_id = j.id AND u.state <> 'succeeded')
ORDER BY j.priority DESC, j.created_at, j.id
LIMIT :limit

-- name: blocked_jobs
-- Pending jobs with an upstream job that ended without success, and which.
SELECT d.job_id, group_concat(u.name || ' (' || u.state || ')', ', ') AS upstream
FROM job_deps d
JOIN jobs j ON j.id = d.job_id
JOIN jobs u ON u.id = d.upstream_id
WHERE j.state = 'pending'
  AND u.state IN ('failed', 'cancelled', 'upstream_failed', 'rolled_back')
GROUP BY d.job_id
ORDER BY d.job_id

-- name: claim_settlement
-- One coordinator at a time settles (publishes) a finished job: the claim is
-- taken when free, expired, already ours, or held by :take_from (a claimant
-- the caller proved gone). Returns the job id when taken.
UPDATE jobs SET settler = :owner, settle_until = :now + :seconds
WHERE id = :job_id AND state = 'running'
  AND (settler IS NULL OR settler = :owner OR settle_until < :now
       OR settler = :take_from)
RETURNING id

-- name: settlement_holder
-- Who holds a running job's settlement claim, with its registry row (NULL
-- when it has none), in the columns of lease_owners.
SELECT j.settler AS owner, 0 AS chunks, k.host AS host, k.pid AS pid,
       :now - k.heartbeat_at AS heartbeat_age
FROM jobs j LEFT JOIN coordinators k ON k.owner = j.settler
WHERE j.id = :job_id AND j.state = 'running' AND j.settler IS NOT NULL

-- name: get_jobs
-- Several jobs by id (JSON list; the dispatcher's periodic look at what it serves).
SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(:job_ids)) ORDER BY id

-- name: insert_attempt_log
-- Keep what one attempt printed and logged (a batch sent again after an
-- uncertain commit inserts nothing twice).
INSERT INTO attempt_logs (job_id, chunk_id, seq, attempt, fencing_token, worker, outcome,
                          error, traceback, output, output_bytes, created_at)
VALUES (:job_id, :chunk_id, :seq, :attempt, :fencing_token, :worker, :outcome,
        :error, :traceback, :output, :output_bytes, :now)
ON CONFLICT (chunk_id, fencing_token) DO NOTHING

-- name: prune_attempt_logs
-- Drop all but the newest :keep attempt logs of each chunk of a job (JSON list).
DELETE FROM attempt_logs WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY chunk_id ORDER BY id DESC) AS n
        FROM attempt_logs WHERE job_id IN (SELECT value FROM json_each(:job_ids))
    ) WHERE n > :keep)

-- name: attempt_logs
-- A job's attempt logs, oldest first; only chunk :seq / attempt :attempt when
-- given; only those after id :after_id (a follower's position).
SELECT * FROM attempt_logs
WHERE job_id = :job_id AND id > :after_id
  AND (:seq IS NULL OR seq = :seq)
  AND (:attempt IS NULL OR attempt = :attempt)
ORDER BY id
LIMIT :limit
