-- 0007: which jobs each coordinator runs (SQLite dialect of
-- migrations/postgres/0007).
CREATE TABLE coordinator_jobs (
    owner  TEXT    NOT NULL,
    job_id INTEGER NOT NULL,
    PRIMARY KEY (owner, job_id)
);
CREATE INDEX coordinator_jobs_job ON coordinator_jobs (job_id);
