-- The task version at which the task's status last changed. A version bump that changes
-- nothing the worker answers (a snapshot link added to the task) must not make the worker's
-- answer stale: an update naming any version from status_version to version is current.
ALTER TABLE tasks ADD COLUMN status_version INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET status_version = version;
