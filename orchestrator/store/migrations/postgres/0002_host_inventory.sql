-- The SSH executor's host inventory: how to reach a host (identity file,
-- remote python, working directory, environment), why its state last changed,
-- and how many of its slots are busy. Host states are lower-case HostState
-- values ('unknown', 'online', 'busy', 'offline', 'error', 'maintenance');
-- port 0 means "not set: ~/.ssh/config's Port, else 22".
ALTER TABLE hosts ADD COLUMN identity_file text;
ALTER TABLE hosts ADD COLUMN python text;
ALTER TABLE hosts ADD COLUMN workdir text;
ALTER TABLE hosts ADD COLUMN env jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE hosts ADD COLUMN state_reason text;
ALTER TABLE hosts ADD COLUMN state_changed_at timestamptz;
ALTER TABLE hosts ADD COLUMN slots_in_use integer NOT NULL DEFAULT 0;
