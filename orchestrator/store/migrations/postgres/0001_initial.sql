-- 0001: the initial schema.
-- Jobs with their inputs and chunks, one row per attempt, the append-only
-- events log, and the tables later features fill (hosts, queues,
-- coordinators). States are checked here and in every UPDATE's WHERE clause.
-- schema_migrations itself is created by the migrator (query
-- ensure_migrations_table) before any migration runs.

CREATE TABLE jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    run_key     text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN (
                    'pending', 'running', 'succeeded', 'failed', 'cancelled',
                    'upstream_failed', 'rolled_back')),
    priority    integer NOT NULL DEFAULT 1,
    queue       text NOT NULL DEFAULT 'default',
    spec        jsonb NOT NULL,
    spec_hash   text NOT NULL,
    output_path text,
    source_file text,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    CONSTRAINT jobs_name_run_key_key UNIQUE (name, run_key)
);
CREATE INDEX jobs_state_idx ON jobs (state);
CREATE INDEX jobs_name_created_idx ON jobs (name, created_at);

CREATE TABLE job_inputs (
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    path        text NOT NULL,
    format      text NOT NULL,
    size        bigint NOT NULL,
    mtime_ns    bigint NOT NULL,
    sample_hash text NOT NULL,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE chunks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq              integer NOT NULL,
    phase            integer NOT NULL DEFAULT 0,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN (
                         'pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    kind             text NOT NULL,
    path             text,
    start            bigint NOT NULL,
    stop             bigint NOT NULL,
    est_rows         bigint NOT NULL DEFAULT 0,
    descriptor       jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    infra_attempts   integer NOT NULL DEFAULT 0,
    fencing_token    bigint NOT NULL DEFAULT 0,
    lease_owner      text,
    lease_expires_at timestamptz,
    not_before       timestamptz,
    rows_in          bigint,
    rows_out         bigint,
    rows_rejected    bigint,
    bytes_out        bigint,
    checksum         text,
    part_file        text,
    error            text,
    checkpoint       jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chunks_job_seq_key UNIQUE (job_id, seq)
);
-- leasing: the next pending chunks of one job in seq order
CREATE INDEX chunks_pending_idx ON chunks (job_id, seq) WHERE state = 'pending';
-- renew/release: the running chunks of one owner
CREATE INDEX chunks_owner_idx ON chunks (lease_owner) WHERE state = 'running';
-- reaping: running chunks by lease expiry
CREATE INDEX chunks_expiry_idx ON chunks (lease_expires_at) WHERE state = 'running';
-- progress: counts and totals per state, answerable from the index alone
CREATE INDEX chunks_progress_idx ON chunks (job_id, state)
    INCLUDE (attempts, infra_attempts, rows_in, rows_out, rows_rejected, bytes_out);

CREATE TABLE attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- no foreign key: attempts are written only by the store, in the same
    -- transaction as the chunk they belong to; the per-row FK check cost a
    -- tenth of the lease and commit time of a batch
    chunk_id      bigint NOT NULL,
    job_id        bigint NOT NULL,
    fencing_token bigint NOT NULL,
    owner         text NOT NULL,
    worker        text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    outcome       text,
    error         text,
    part_file     text,
    rows_out      bigint,
    duration      double precision,
    CONSTRAINT attempts_chunk_token_key UNIQUE (chunk_id, fencing_token)
);
CREATE INDEX attempts_job_idx ON attempts (job_id);

CREATE TABLE hosts (
    name           text PRIMARY KEY,
    address        text NOT NULL,
    port           integer NOT NULL DEFAULT 22,
    username       text,
    state          text NOT NULL DEFAULT 'unknown',
    slots          integer NOT NULL DEFAULT 1,
    pool           text NOT NULL DEFAULT 'default',
    labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
    cpu            double precision,
    mem            double precision,
    load           double precision,
    last_heartbeat timestamptz,
    successes      bigint NOT NULL DEFAULT 0,
    failures       bigint NOT NULL DEFAULT 0
);

CREATE TABLE queues (
    name              text PRIMARY KEY,
    paused            boolean NOT NULL DEFAULT false,
    concurrency_limit integer
);

CREATE TABLE coordinators (
    owner        text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    job_id     bigint,
    chunk_id   bigint,
    actor_user text NOT NULL,
    actor_host text NOT NULL,
    actor_pid  integer NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_job_idx ON events (job_id, id);
