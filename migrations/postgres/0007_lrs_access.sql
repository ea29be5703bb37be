-- Who may use the LRS, and where it forwards statements (projections
-- "lrs_credentials" and "lrs_forwarding"), plus the forwarder's own
-- bookkeeping.

CREATE TABLE lrs_credentials (
    workspace_id   TEXT NOT NULL,
    environment    TEXT NOT NULL,
    credential_id  TEXT NOT NULL PRIMARY KEY,
    label          TEXT,
    scopes         TEXT NOT NULL,
    hint           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT
);
CREATE INDEX lrs_credentials_by_scope ON lrs_credentials (workspace_id, environment, created_at);

CREATE TABLE lrs_launch_tokens (
    workspace_id   TEXT NOT NULL,
    environment    TEXT NOT NULL,
    token_id       TEXT NOT NULL PRIMARY KEY,
    secret_hash    TEXT NOT NULL,
    actor          TEXT NOT NULL,
    registration   TEXT NOT NULL,
    activity_id    TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    revoked_at     TEXT
);

CREATE TABLE lrs_forwarding (
    workspace_id    TEXT   NOT NULL,
    environment     TEXT   NOT NULL,
    endpoint        TEXT   NOT NULL,
    auth_header     TEXT,
    xapi_version    TEXT   NOT NULL,
    configured_at   TEXT   NOT NULL,
    -- Forwarding starts after the event that first configured it.
    start_tx        BIGINT NOT NULL,
    start_position  BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, environment)
);

-- The forwarder's checkpoint and health per target (not a view: replay
-- leaves it alone, like projection_checkpoints).
CREATE TABLE lrs_forwarder_status (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    start_position   BIGINT NOT NULL,
    checkpoint_tx    BIGINT NOT NULL,
    checkpoint_pos   BIGINT NOT NULL,
    forwarded        BIGINT NOT NULL,
    failures         BIGINT NOT NULL,
    last_success_at  TEXT,
    last_error       TEXT,
    last_error_at    TEXT,
    PRIMARY KEY (workspace_id, environment)
);
