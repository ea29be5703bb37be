-- The event log: the only source of truth. Append-only, enforced here.
-- tx_id orders readers: see store/src/log/postgres.rs.
CREATE TABLE events (
    position        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL CHECK (stream_version > 0),
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    payload         TEXT        NOT NULL,
    workspace_id    TEXT,
    environment     TEXT CHECK (environment IN ('live', 'test')),
    actor           TEXT,
    correlation_id  TEXT,
    causation_id    TEXT,
    request_id      TEXT,
    recorded_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_tx ON events (tx_id, position);
CREATE INDEX events_by_workspace ON events (workspace_id, tx_id, position);

CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % refused', lower(TG_OP);
END
$$;

CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Where each projection stands in the log.
CREATE TABLE projection_checkpoints (
    name        TEXT PRIMARY KEY,
    tx_id       BIGINT NOT NULL,
    position    BIGINT NOT NULL,
    updated_at  TEXT   NOT NULL
);
