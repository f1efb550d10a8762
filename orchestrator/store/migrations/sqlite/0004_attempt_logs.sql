-- 0004: what each attempt of a chunk printed and logged, and its traceback
-- (SQLite dialect of migrations/postgres/0004).
CREATE TABLE attempt_logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    chunk_id      INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    fencing_token INTEGER NOT NULL,
    worker        TEXT,
    outcome       TEXT NOT NULL,
    error         TEXT,
    traceback     TEXT,
    output        TEXT NOT NULL DEFAULT '',
    output_bytes  INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    UNIQUE (chunk_id, fencing_token)
) STRICT;
CREATE INDEX attempt_logs_job_idx ON attempt_logs (job_id, seq, attempt);
