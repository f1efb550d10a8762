-- Scheduling: job dependencies (depends_on inside one spec file) and the
-- settlement claim that lets exactly one of several coordinators publish a
-- finished job. A claim names its coordinator and expires, so a coordinator
-- that dies while publishing is followed by another one.
CREATE TABLE job_deps (
    job_id      bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    upstream_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, upstream_id)
);
CREATE INDEX job_deps_upstream_idx ON job_deps (upstream_id);
ALTER TABLE jobs ADD COLUMN settler text;
ALTER TABLE jobs ADD COLUMN settle_until timestamptz;
-- serve: the active jobs of some queues, by priority then submit time
CREATE INDEX jobs_active_idx ON jobs (queue, priority, created_at)
    WHERE state IN ('pending', 'running');
