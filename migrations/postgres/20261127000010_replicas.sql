-- Replicas (cluster.enabled): which replica leads, and since which epoch (src/cluster.rs).
CREATE TABLE cluster_leader (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    epoch     BIGINT NOT NULL,
    replica   TEXT NOT NULL,
    http_url  TEXT NOT NULL,
    since     BIGINT NOT NULL
);

-- The database's own guard on assignment: a responder holds at most one live offer or task,
-- whatever the engine believes (a deposed leader's commit fails here instead).
CREATE UNIQUE INDEX tasks_one_live_per_responder ON tasks (responder_id)
    WHERE status IN ('offered', 'accepted', 'en_route', 'on_scene');
