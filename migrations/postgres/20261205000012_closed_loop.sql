-- The closed loop (issue 14): each incident's deadline and milestones, kept on the row so
-- that a month's report is one scan of incidents, not a replay of every timeline.
ALTER TABLE incidents ADD COLUMN due_at BIGINT;              -- 处置时限, Unix ms
ALTER TABLE incidents ADD COLUMN first_offer_at BIGINT;      -- first offer made
ALTER TABLE incidents ADD COLUMN accepted_at BIGINT;         -- first reached assigned
ALTER TABLE incidents ADD COLUMN on_scene_at BIGINT;         -- first reached on_scene
ALTER TABLE incidents ADD COLUMN resolved_at BIGINT;         -- last reached resolved
ALTER TABLE incidents ADD COLUMN ended_at BIGINT;            -- reached closed or cancelled
ALTER TABLE incidents ADD COLUMN source_id TEXT;           -- the first alert's source
ALTER TABLE incidents ADD COLUMN resolver_id TEXT;         -- whose task last reached resolved
ALTER TABLE incidents ADD COLUMN escalation_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN rework_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN extension_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN suspension_count BIGINT NOT NULL DEFAULT 0;
-- When an answer to an offer (accepted) came; NULL for offers never accepted.
ALTER TABLE tasks ADD COLUMN accepted_at BIGINT;

-- Incidents from before: their milestones from their timelines and tasks. No deadline is
-- invented for them (due_at stays NULL: they count as not due in reports).
UPDATE incidents SET
    first_offer_at = (SELECT MIN(offered_at) FROM tasks WHERE tasks.incident_id = incidents.id),
    accepted_at = (SELECT MIN(at) FROM timeline WHERE timeline.incident_id = incidents.id AND to_state = 'assigned'),
    on_scene_at = (SELECT MIN(at) FROM timeline WHERE timeline.incident_id = incidents.id AND to_state = 'on_scene'),
    resolved_at = (SELECT MAX(at) FROM timeline WHERE timeline.incident_id = incidents.id AND to_state = 'resolved'),
    ended_at = (SELECT MIN(at) FROM timeline WHERE timeline.incident_id = incidents.id AND to_state IN ('closed', 'cancelled')),
    source_id = (SELECT source_id FROM alerts WHERE alerts.incident_id = incidents.id ORDER BY received_at, id LIMIT 1),
    resolver_id = (SELECT responder_id FROM tasks WHERE tasks.incident_id = incidents.id AND status = 'resolved' ORDER BY updated_at DESC, id LIMIT 1),
    escalation_count = (SELECT COUNT(*) FROM timeline WHERE timeline.incident_id = incidents.id AND to_state = 'escalated');
-- An accepted task's answer time is not known from before; its last change is the nearest.
UPDATE tasks SET accepted_at = updated_at WHERE status IN ('accepted', 'en_route', 'on_scene', 'resolved');

CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_due ON incidents (due_at);
CREATE INDEX tasks_offered ON tasks (offered_at);
