-- 0006: the small result a committed chunk reports with its outcome
-- (SQLite dialect of migrations/postgres/0006).
ALTER TABLE chunks ADD COLUMN result TEXT;
