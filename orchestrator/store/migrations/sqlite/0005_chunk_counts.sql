-- 0005: per-job chunk counts kept by triggers (SQLite dialect of
-- migrations/postgres/0005). SQLite has one writer at a time, so a row per
-- (job, state) updated in place cannot be contended: each changed chunk row
-- moves its numbers from its old state's row to its new state's.
CREATE TABLE chunk_counts (
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state         TEXT NOT NULL,
    n             INTEGER NOT NULL,
    rows_in       INTEGER NOT NULL,
    rows_out      INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    bytes_out     INTEGER NOT NULL,
    retries       INTEGER NOT NULL,
    PRIMARY KEY (job_id, state)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER chunk_counts_insert AFTER INSERT ON chunks
BEGIN
    INSERT INTO chunk_counts VALUES (
        NEW.job_id, NEW.state, 1, coalesce(NEW.rows_in, 0), coalesce(NEW.rows_out, 0),
        coalesce(NEW.rows_rejected, 0), coalesce(NEW.bytes_out, 0),
        NEW.attempts + NEW.infra_attempts)
    ON CONFLICT (job_id, state) DO UPDATE SET
        n = n + excluded.n, rows_in = rows_in + excluded.rows_in,
        rows_out = rows_out + excluded.rows_out,
        rows_rejected = rows_rejected + excluded.rows_rejected,
        bytes_out = bytes_out + excluded.bytes_out, retries = retries + excluded.retries;
END;

CREATE TRIGGER chunk_counts_update
AFTER UPDATE OF state, rows_in, rows_out, rows_rejected, bytes_out, attempts, infra_attempts
ON chunks
BEGIN
    UPDATE chunk_counts SET
        n = n - 1, rows_in = rows_in - coalesce(OLD.rows_in, 0),
        rows_out = rows_out - coalesce(OLD.rows_out, 0),
        rows_rejected = rows_rejected - coalesce(OLD.rows_rejected, 0),
        bytes_out = bytes_out - coalesce(OLD.bytes_out, 0),
        retries = retries - (OLD.attempts + OLD.infra_attempts)
    WHERE job_id = OLD.job_id AND state = OLD.state;
    INSERT INTO chunk_counts VALUES (
        NEW.job_id, NEW.state, 1, coalesce(NEW.rows_in, 0), coalesce(NEW.rows_out, 0),
        coalesce(NEW.rows_rejected, 0), coalesce(NEW.bytes_out, 0),
        NEW.attempts + NEW.infra_attempts)
    ON CONFLICT (job_id, state) DO UPDATE SET
        n = n + excluded.n, rows_in = rows_in + excluded.rows_in,
        rows_out = rows_out + excluded.rows_out,
        rows_rejected = rows_rejected + excluded.rows_rejected,
        bytes_out = bytes_out + excluded.bytes_out, retries = retries + excluded.retries;
END;

CREATE TRIGGER chunk_counts_delete AFTER DELETE ON chunks
BEGIN
    UPDATE chunk_counts SET
        n = n - 1, rows_in = rows_in - coalesce(OLD.rows_in, 0),
        rows_out = rows_out - coalesce(OLD.rows_out, 0),
        rows_rejected = rows_rejected - coalesce(OLD.rows_rejected, 0),
        bytes_out = bytes_out - coalesce(OLD.bytes_out, 0),
        retries = retries - (OLD.attempts + OLD.infra_attempts)
    WHERE job_id = OLD.job_id AND state = OLD.state;
END;

-- The counts of the chunks already stored.
INSERT INTO chunk_counts
SELECT job_id, state, count(*), sum(coalesce(rows_in, 0)), sum(coalesce(rows_out, 0)),
       sum(coalesce(rows_rejected, 0)), sum(coalesce(bytes_out, 0)),
       sum(attempts + infra_attempts)
FROM chunks GROUP BY job_id, state;
