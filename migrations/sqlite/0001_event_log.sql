-- The event log: the only source of truth. Append-only, enforced here.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version > 0),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    workspace_id    TEXT,
    environment     TEXT CHECK (environment IN ('live', 'test')),
    actor           TEXT,
    correlation_id  TEXT,
    causation_id    TEXT,
    request_id      TEXT,
    recorded_at     TEXT    NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_workspace ON events (workspace_id, position);

CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: update refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: delete refused');
END;

-- Where each projection stands in the log.
CREATE TABLE projection_checkpoints (
    name        TEXT PRIMARY KEY,
    tx_id       BIGINT NOT NULL,
    position    BIGINT NOT NULL,
    updated_at  TEXT   NOT NULL
);
