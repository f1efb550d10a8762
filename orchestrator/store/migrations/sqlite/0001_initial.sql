-- 0001: the initial schema (SQLite dialect of migrations/postgres/0001).
-- Timestamps are REAL unix seconds from the database clock; JSON is TEXT.
-- Tables are STRICT so a wrong type is an error, not a silent conversion.
-- AUTOINCREMENT: an id is never reused, so a stale (chunk_id, fencing_token)
-- can never match a later chunk. schema_migrations is created by the
-- migrator (query ensure_migrations_table).

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    run_key     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
                    'pending', 'running', 'succeeded', 'failed', 'cancelled',
                    'upstream_failed', 'rolled_back')),
    priority    INTEGER NOT NULL DEFAULT 1,
    queue       TEXT NOT NULL DEFAULT 'default',
    spec        TEXT NOT NULL,
    spec_hash   TEXT NOT NULL,
    output_path TEXT,
    source_file TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    UNIQUE (name, run_key)
) STRICT;
CREATE INDEX jobs_state_idx ON jobs (state);
CREATE INDEX jobs_name_created_idx ON jobs (name, created_at);

CREATE TABLE job_inputs (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    sample_hash TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
) STRICT;

CREATE TABLE chunks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    phase            INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
                         'pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    kind             TEXT NOT NULL,
    path             TEXT,
    start            INTEGER NOT NULL,
    stop             INTEGER NOT NULL,
    est_rows         INTEGER NOT NULL DEFAULT 0,
    descriptor       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    infra_attempts   INTEGER NOT NULL DEFAULT 0,
    fencing_token    INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at REAL,
    not_before       REAL,
    rows_in          INTEGER,
    rows_out         INTEGER,
    rows_rejected    INTEGER,
    bytes_out        INTEGER,
    checksum         TEXT,
    part_file        TEXT,
    error            TEXT,
    checkpoint       TEXT,
    updated_at       REAL NOT NULL,
    UNIQUE (job_id, seq)
) STRICT;
-- leasing: the next pending chunks of one job in seq order
CREATE INDEX chunks_pending_idx ON chunks (job_id, seq) WHERE state = 'pending';
-- renew/release: the running chunks of one owner
CREATE INDEX chunks_owner_idx ON chunks (lease_owner) WHERE state = 'running';
-- reaping: running chunks by lease expiry
CREATE INDEX chunks_expiry_idx ON chunks (lease_expires_at) WHERE state = 'running';
-- progress: counts and totals per state from a covering index
CREATE INDEX chunks_progress_idx ON chunks (
    job_id, state, attempts, infra_attempts, rows_in, rows_out, rows_rejected, bytes_out);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- no foreign key: attempts are written only by the store, in the same
    -- transaction as the chunk they belong to; the per-row FK check cost a
    -- tenth of the lease and commit time of a batch
    chunk_id      INTEGER NOT NULL,
    job_id        INTEGER NOT NULL,
    fencing_token INTEGER NOT NULL,
    owner         TEXT NOT NULL,
    worker        TEXT,
    started_at    REAL NOT NULL,
    finished_at   REAL,
    outcome       TEXT,
    error         TEXT,
    part_file     TEXT,
    rows_out      INTEGER,
    duration      REAL,
    UNIQUE (chunk_id, fencing_token)
) STRICT;
CREATE INDEX attempts_job_idx ON attempts (job_id);

CREATE TABLE hosts (
    name           TEXT PRIMARY KEY,
    address        TEXT NOT NULL,
    port           INTEGER NOT NULL DEFAULT 22,
    username       TEXT,
    state          TEXT NOT NULL DEFAULT 'unknown',
    slots          INTEGER NOT NULL DEFAULT 1,
    pool           TEXT NOT NULL DEFAULT 'default',
    labels         TEXT NOT NULL DEFAULT '{}',
    cpu            REAL,
    mem            REAL,
    load           REAL,
    last_heartbeat REAL,
    successes      INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE queues (
    name              TEXT PRIMARY KEY,
    paused            INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    concurrency_limit INTEGER
) STRICT;

CREATE TABLE coordinators (
    owner        TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL
) STRICT;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         REAL NOT NULL,
    kind       TEXT NOT NULL,
    job_id     INTEGER,
    chunk_id   INTEGER,
    actor_user TEXT NOT NULL,
    actor_host TEXT NOT NULL,
    actor_pid  INTEGER NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX events_job_idx ON events (job_id, id);
