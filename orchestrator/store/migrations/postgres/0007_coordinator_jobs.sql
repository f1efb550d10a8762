-- 0007: which jobs each coordinator runs. A coordinator links a job before it
-- opens it and unlinks it when the job is no longer its to run; deregistering
-- removes its links. `status` and `list` call a running job `interrupted` when
-- none of the coordinators linked to it is alive (orchestrator/api/liveness.py),
-- so a live `serve` of other jobs no longer hides a job whose own run died.
CREATE TABLE coordinator_jobs (
    owner  text   NOT NULL,
    job_id bigint NOT NULL,
    PRIMARY KEY (owner, job_id)
);
CREATE INDEX coordinator_jobs_job ON coordinator_jobs (job_id);
