-- The task version at which the task's status last changed (see migrations/sqlite).
ALTER TABLE tasks ADD COLUMN status_version BIGINT NOT NULL DEFAULT 0;
UPDATE tasks SET status_version = version;
