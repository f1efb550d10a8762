-- 0005: per-job chunk counts kept by triggers, so `status`, `list`, `queue
-- stats` and the live view read a few rows per job instead of counting every
-- chunk row of it (a 1,000,000-chunk job: an index-only scan of 1M entries
-- per call).
--
-- The table holds deltas: each statement that changes chunks appends, per
-- (job, state), the change it made (count, rows, bytes, attempts). Appending
-- never updates a shared row, so two coordinators committing chunks of one
-- job never wait on each other's counter rows nor deadlock on them (row-level
-- counters would: a lease locks pending then running, a release running then
-- pending). A reader sums a job's rows. The trigger folds a job's deltas
-- into one row per state once they pile up, only under a transaction-level
-- advisory lock it does not wait for, so the fold never blocks either: at
-- most one fold per job runs, and a skipped fold is done by a later statement.
CREATE TABLE chunk_counts (
    job_id        bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    state         text NOT NULL,
    n             bigint NOT NULL,
    rows_in       bigint NOT NULL,
    rows_out      bigint NOT NULL,
    rows_rejected bigint NOT NULL,
    bytes_out     bigint NOT NULL,
    retries       bigint NOT NULL
);
CREATE INDEX chunk_counts_job_idx ON chunk_counts (job_id, state);

-- Fold a job's deltas into one row per state, unless another transaction is
-- folding them now.
CREATE FUNCTION chunk_counts_fold(job bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- 0x6a63 ('jc'): the advisory lock space of jobctl's counter folds
    IF NOT pg_try_advisory_xact_lock(27235, (job % 2147483647)::integer) THEN
        RETURN;
    END IF;
    WITH gone AS (
        DELETE FROM chunk_counts WHERE job_id = job RETURNING *
    )
    INSERT INTO chunk_counts
    SELECT job_id, state, sum(n), sum(rows_in), sum(rows_out), sum(rows_rejected),
           sum(bytes_out), sum(retries)
    FROM gone GROUP BY job_id, state
    HAVING sum(n) <> 0 OR sum(rows_in) <> 0 OR sum(rows_out) <> 0
        OR sum(rows_rejected) <> 0 OR sum(bytes_out) <> 0 OR sum(retries) <> 0;
END $$;

CREATE FUNCTION chunk_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO chunk_counts
        SELECT job_id, state, count(*), sum(coalesce(rows_in, 0)), sum(coalesce(rows_out, 0)),
               sum(coalesce(rows_rejected, 0)), sum(coalesce(bytes_out, 0)),
               sum(attempts + infra_attempts)
        FROM added GROUP BY job_id, state;
    ELSIF TG_OP = 'DELETE' THEN
        -- a job being deleted takes its counts with it (the foreign key)
        INSERT INTO chunk_counts
        SELECT r.job_id, r.state, -count(*), -sum(coalesce(r.rows_in, 0)),
               -sum(coalesce(r.rows_out, 0)), -sum(coalesce(r.rows_rejected, 0)),
               -sum(coalesce(r.bytes_out, 0)), -sum(r.attempts + r.infra_attempts)
        FROM removed r WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id)
        GROUP BY r.job_id, r.state;
    ELSE
        INSERT INTO chunk_counts
        SELECT job_id, state, sum(n), sum(rows_in), sum(rows_out), sum(rows_rejected),
               sum(bytes_out), sum(retries)
        FROM (
            SELECT job_id, state, 1 AS n, coalesce(rows_in, 0) AS rows_in,
                   coalesce(rows_out, 0) AS rows_out, coalesce(rows_rejected, 0) AS rows_rejected,
                   coalesce(bytes_out, 0) AS bytes_out, attempts + infra_attempts AS retries
            FROM added
            UNION ALL
            SELECT job_id, state, -1, -coalesce(rows_in, 0), -coalesce(rows_out, 0),
                   -coalesce(rows_rejected, 0), -coalesce(bytes_out, 0),
                   -(attempts + infra_attempts)
            FROM removed
        ) d
        GROUP BY job_id, state
        HAVING sum(n) <> 0 OR sum(rows_in) <> 0 OR sum(rows_out) <> 0
            OR sum(rows_rejected) <> 0 OR sum(bytes_out) <> 0 OR sum(retries) <> 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        FOR job IN
            SELECT c.job_id FROM chunk_counts c
            WHERE c.job_id IN (SELECT DISTINCT a.job_id FROM added a)
            GROUP BY c.job_id HAVING count(*) > 64
        LOOP
            PERFORM chunk_counts_fold(job);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER chunk_counts_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION chunk_counts_apply();
CREATE TRIGGER chunk_counts_update AFTER UPDATE ON chunks
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION chunk_counts_apply();
CREATE TRIGGER chunk_counts_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION chunk_counts_apply();

-- The counts of the chunks already stored.
INSERT INTO chunk_counts
SELECT job_id, state, count(*), sum(coalesce(rows_in, 0)), sum(coalesce(rows_out, 0)),
       sum(coalesce(rows_rejected, 0)), sum(coalesce(bytes_out, 0)),
       sum(attempts + infra_attempts)
FROM chunks GROUP BY job_id, state;
