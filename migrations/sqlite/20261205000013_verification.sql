-- The closed loop, continued (issue 14): verification, rework, suspension, extensions.
-- While suspended (缓办), when it was suspended: on resume the deadline moves later by the
-- time suspended.
ALTER TABLE incidents ADD COLUMN suspended_at INTEGER;
-- The one pending extension request (延期) of a worker, JSON
-- {task_id, responder_id, minutes, reason, requested_at}; NULL when none is pending.
ALTER TABLE incidents ADD COLUMN extension_request TEXT;
-- What a task asks of its responder: handle the incident, do it again (返工), or check
-- someone else's resolution; and the reason given with it (the rework reason).
ALTER TABLE tasks ADD COLUMN purpose TEXT NOT NULL DEFAULT 'respond'
    CHECK (purpose IN ('respond', 'rework', 'verify'));
ALTER TABLE tasks ADD COLUMN purpose_note TEXT;
