-- Named queries both dialects run as written (orchestrator/store/core.py).
--
-- Portable SQL only: parameters are :name (the PostgreSQL loader turns them
-- into %(name)s), no casts, no dialect functions, no percent sign. A query
-- that needs either lives in postgres.sql and sqlite.sql under one name; a
-- name is defined in exactly one place.

-- name: current_version
-- The schema version of the store: the highest migration applied.
SELECT coalesce(max(version), 0) AS version FROM schema_migrations

-- name: job_id_by_key
-- The id of the job with this (name, run_key).
SELECT id FROM jobs WHERE name = :name AND run_key = :run_key

-- name: get_job
-- One job by id.
SELECT * FROM jobs WHERE id = :job_id

-- name: find_job_by_key
-- The job with this name and run key.
SELECT * FROM jobs WHERE name = :name AND run_key = :run_key

-- name: find_job_newest
-- The newest job with this name.
SELECT * FROM jobs WHERE name = :name ORDER BY created_at DESC, id DESC LIMIT 1

-- name: job_inputs
-- The input fingerprints of a job in discovery order.
SELECT * FROM job_inputs WHERE job_id = :job_id ORDER BY idx

-- name: job_state
-- The current state of a job.
SELECT state FROM jobs WHERE id = :job_id

-- name: job_progress
-- Chunk counts and totals per state, from the trigger-kept chunk_counts
-- (migration 0005): a few rows per job, however many chunks it has.
SELECT state,
       sum(n) AS n,
       sum(rows_in) AS rows_in,
       sum(rows_out) AS rows_out,
       sum(rows_rejected) AS rows_rejected,
       sum(bytes_out) AS bytes_out,
       sum(retries) AS retries
FROM chunk_counts WHERE job_id = :job_id
GROUP BY state
HAVING sum(n) <> 0

-- name: chunks_from_phase
-- How many chunks a job has in phase :phase or later (has that phase been planned?).
SELECT count(*) AS n FROM chunks WHERE job_id = :job_id AND phase >= :phase

-- name: phase_progress
-- Chunks and committed rows per phase of a job (status of a job of several phases).
SELECT phase, count(*) AS chunks,
       sum(CASE WHEN state = 'succeeded' THEN 1 ELSE 0 END) AS done,
       sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running,
       sum(coalesce(rows_in, 0)) AS rows_in,
       sum(coalesce(rows_out, 0)) AS rows_out,
       sum(coalesce(rows_rejected, 0)) AS rows_rejected
FROM chunks WHERE job_id = :job_id
GROUP BY phase ORDER BY phase

-- name: carried_state
-- The result of the chunk a serial phase's chunk :seq follows: the committed
-- chunk of the same phase just before it (its ``state`` is carried on).
SELECT result FROM chunks
WHERE job_id = :job_id AND phase = :phase AND seq < :seq AND state = 'succeeded'
ORDER BY seq DESC
LIMIT 1

-- name: list_events
-- Events of a job, oldest first; NULL limit = all.
SELECT * FROM events WHERE job_id = :job_id ORDER BY id LIMIT :limit

-- name: get_queue
-- A queue's row (paused, concurrency_limit); nothing when it has none.
SELECT name, paused, concurrency_limit FROM queues WHERE name = :name

-- name: queue_chunk_counts
-- Queue :queue now, per job priority: pending chunks of pending or running
-- jobs, running chunks, dead chunks (its dead letters), from chunk_counts.
SELECT j.priority,
       coalesce(sum(c.n) FILTER (WHERE c.state = 'pending' AND j.state IN ('pending', 'running')), 0)
           AS pending,
       coalesce(sum(c.n) FILTER (WHERE c.state = 'running'), 0) AS running,
       coalesce(sum(c.n) FILTER (WHERE c.state = 'dead'), 0) AS dead
FROM jobs j JOIN chunk_counts c ON c.job_id = j.id
WHERE j.queue = :queue AND c.state IN ('pending', 'running', 'dead')
GROUP BY j.priority
HAVING sum(c.n) <> 0

-- name: delete_host
-- Forget a host; returns its name when it existed.
DELETE FROM hosts WHERE name = :name RETURNING name

-- name: get_host
-- One host by name.
SELECT * FROM hosts WHERE name = :name

-- name: list_hosts
-- Every registered host, by name.
SELECT * FROM hosts ORDER BY name

-- name: delete_coordinator
-- Deregister a coordinator (it exits, or a peer proved it gone).
DELETE FROM coordinators WHERE owner = :owner

-- name: delete_coordinator_jobs
-- A deregistered coordinator runs no job any more (migration 0007).
DELETE FROM coordinator_jobs WHERE owner = :owner

-- name: link_coordinator_job
-- This coordinator runs this job (before it opens it; twice is once).
INSERT INTO coordinator_jobs (owner, job_id) VALUES (:owner, :job_id)
ON CONFLICT DO NOTHING

-- name: unlink_coordinator_job
-- The job is no longer this coordinator's to run.
DELETE FROM coordinator_jobs WHERE owner = :owner AND job_id = :job_id

-- name: running_chunk_owners
-- Who holds running chunks of a job (replan refuses while anyone does).
SELECT lease_owner AS owner, count(*) AS n FROM chunks
WHERE job_id = :job_id AND state = 'running'
GROUP BY lease_owner ORDER BY lease_owner

-- name: count_succeeded
-- How many chunks of a job succeeded (from chunk_counts).
SELECT coalesce(sum(n), 0) AS n FROM chunk_counts WHERE job_id = :job_id AND state = 'succeeded'

-- name: delete_job_chunks
-- Replan: drop every chunk of a job (attempts and events keep the history;
-- chunk ids are never reused, so a late commit of a dropped chunk matches
-- nothing).
DELETE FROM chunks WHERE job_id = :job_id

-- name: delete_job_inputs
-- Replan: drop the input fingerprints of a job.
DELETE FROM job_inputs WHERE job_id = :job_id

-- name: upstream_jobs
-- The upstream jobs of a job with their names and states, oldest first.
SELECT u.id, u.name, u.state FROM job_deps d JOIN jobs u ON u.id = d.upstream_id
WHERE d.job_id = :job_id
ORDER BY u.id

-- name: update_job_priority
-- A queued or running job's priority (the caller locked it and read the old one).
UPDATE jobs SET priority = :priority
WHERE id = :job_id AND state IN ('pending', 'running')
RETURNING *

-- name: upsert_queue_paused
-- Pause or resume :name; its row is created when it has none.
INSERT INTO queues (name, paused) VALUES (:name, :paused)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused

-- name: upsert_queue_limit
-- Set (or clear, NULL) the concurrency limit of :name; its row is created
-- when it has none.
INSERT INTO queues (name, concurrency_limit) VALUES (:name, :limit)
ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit

-- name: list_queues
-- Every queue that has a row or jobs, by name: paused, limit, pending chunks
-- of pending or running jobs, running chunks, pending or running jobs.
WITH names AS (
    SELECT name FROM queues UNION SELECT DISTINCT queue FROM jobs
), pending AS (
    SELECT j.queue, sum(c.n) AS n FROM jobs j JOIN chunk_counts c ON c.job_id = j.id
    WHERE j.state IN ('pending', 'running') AND c.state = 'pending'
    GROUP BY j.queue
), running AS (
    SELECT j.queue, sum(c.n) AS n FROM jobs j JOIN chunk_counts c ON c.job_id = j.id
    WHERE c.state = 'running'
    GROUP BY j.queue
), active AS (
    SELECT queue, count(*) AS n FROM jobs WHERE state IN ('pending', 'running')
    GROUP BY queue
)
SELECT n.name, coalesce(q.paused, false) AS paused, q.concurrency_limit,
       coalesce(p.n, 0) AS pending, coalesce(r.n, 0) AS running,
       coalesce(a.n, 0) AS jobs_active
FROM names n
LEFT JOIN queues q ON q.name = n.name
LEFT JOIN pending p ON p.queue = n.name
LEFT JOIN running r ON r.queue = n.name
LEFT JOIN active a ON a.queue = n.name
ORDER BY n.name
