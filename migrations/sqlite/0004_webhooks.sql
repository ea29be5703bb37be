-- Views of webhooks (projection "webhooks"): the endpoints, the outbox of
-- deliveries (one per matching event per endpoint, plus pings, redeliveries
-- and replays), and every delivery attempt. Timestamps are RFC 3339 UTC with
-- milliseconds, so text order is time order.
CREATE TABLE webhooks (
    webhook_id                  TEXT PRIMARY KEY,
    workspace_id                TEXT    NOT NULL,
    environment                 TEXT    NOT NULL,
    url                         TEXT    NOT NULL,
    description                 TEXT,
    event_types                 TEXT    NOT NULL, -- JSON array; [] is every type
    enabled                     BOOLEAN NOT NULL,
    secret                      TEXT    NOT NULL,
    previous_secret             TEXT,
    previous_secret_expires_at  TEXT,
    disabled_reason             TEXT,
    disabled_at                 TEXT,
    failing_since               TEXT,
    created_at                  TEXT    NOT NULL,
    updated_at                  TEXT    NOT NULL
);

CREATE INDEX webhooks_by_scope ON webhooks (workspace_id, environment);

CREATE TABLE webhook_deliveries (
    delivery_id         TEXT PRIMARY KEY,
    seq                 BIGINT NOT NULL UNIQUE, -- outbox order
    webhook_id          TEXT   NOT NULL,
    workspace_id        TEXT   NOT NULL,
    environment         TEXT   NOT NULL,
    event_id            TEXT   NOT NULL,
    event_type          TEXT   NOT NULL,
    source_position     BIGINT NOT NULL,        -- the log event delivered
    origin_position     BIGINT NOT NULL,        -- the log event that queued it
    subject             TEXT   NOT NULL,        -- ordering key
    origin              TEXT   NOT NULL,        -- event, ping, redelivery, replay
    api_version         TEXT   NOT NULL,
    state               TEXT   NOT NULL,        -- pending, succeeded, failed, cancelled
    attempts            BIGINT NOT NULL,
    next_attempt_at     TEXT,
    first_attempted_at  TEXT,
    last_attempted_at   TEXT,
    last_status         BIGINT,
    last_error          TEXT,
    created_at          TEXT   NOT NULL
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);
-- The dispatcher's: only pending rows, so a delivery that settles leaves
-- them and a retry does not touch them.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (webhook_id, seq)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_pending_by_subject ON webhook_deliveries (webhook_id, subject, seq)
    WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    delivery_id      TEXT   NOT NULL,
    attempt          BIGINT NOT NULL,
    webhook_id       TEXT   NOT NULL,
    request_id       TEXT   NOT NULL,
    status           BIGINT,
    latency_ms       BIGINT NOT NULL,
    error            TEXT,
    outcome          TEXT   NOT NULL,
    next_attempt_at  TEXT,
    attempted_at     TEXT   NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
