-- Replicas (cluster.enabled, PostgreSQL only): which replica leads, and since which epoch.
-- Present in SQLite too so that both schemas stay the same; a single process never uses it.
CREATE TABLE cluster_leader (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    epoch     INTEGER NOT NULL,
    replica   TEXT NOT NULL,
    http_url  TEXT NOT NULL,
    since     INTEGER NOT NULL
);

-- The database's own guard on assignment: a responder holds at most one live offer or task,
-- whatever the engine believes (a deposed leader's commit fails here instead).
CREATE UNIQUE INDEX tasks_one_live_per_responder ON tasks (responder_id)
    WHERE status IN ('offered', 'accepted', 'en_route', 'on_scene');
