-- 0004: what each attempt of a chunk printed and logged, and its traceback
-- (`jobctl logs`). One row per attempt that failed or said something; the
-- worker caps the text (head and tail of its stdout/stderr/logger records,
-- the end of the traceback), the store keeps the newest few per chunk
-- (query prune_attempt_logs), and a job's logs go with the job.
CREATE TABLE attempt_logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk_id      bigint NOT NULL,
    seq           integer NOT NULL,
    attempt       integer NOT NULL,
    fencing_token bigint NOT NULL,
    worker        text,
    outcome       text NOT NULL,
    error         text,
    traceback     text,
    output        text NOT NULL DEFAULT '',
    output_bytes  bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attempt_logs_chunk_token_key UNIQUE (chunk_id, fencing_token)
);
CREATE INDEX attempt_logs_job_idx ON attempt_logs (job_id, seq, attempt);
