-- Views of the integrated LRS (projections "lrs_statements", "lrs_objects",
-- "lrs_documents"). Every table leads with the workspace
-- environment it belongs to.

-- A compact id for each workspace environment that has statements: the log
-- position of its first statement, so a replay assigns the same ids.
CREATE TABLE lrs_scopes (
    scope_id      INTEGER PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    environment   TEXT NOT NULL,
    UNIQUE (workspace_id, environment)
);

-- One row per stored statement; seq is the log position of its event.
CREATE TABLE lrs_statements (
    seq           INTEGER PRIMARY KEY,
    scope_id      BIGINT  NOT NULL,
    statement_id  TEXT    NOT NULL,
    stored_ms     BIGINT  NOT NULL,
    voided        BOOLEAN NOT NULL,
    -- The statement this one voids, when it is a voiding statement.
    voids         TEXT,
    -- The target of a StatementRef object (voiding or not).
    refers        TEXT,
    -- Filter keys taken over from the target(s) of a StatementRef, one a line.
    inherited     TEXT,
    statement     TEXT    NOT NULL,
    attachments   TEXT,
    UNIQUE (scope_id, statement_id)
);
CREATE INDEX lrs_statements_by_stored ON lrs_statements (scope_id, stored_ms, seq);
CREATE INDEX lrs_statements_by_refers ON lrs_statements (scope_id, refers) WHERE refers IS NOT NULL;
CREATE INDEX lrs_statements_by_voids ON lrs_statements (scope_id, voids) WHERE voids IS NOT NULL;

-- The filter keys of each statement (agent, related agent, activity, related
-- activity, verb, registration, authority), ordered as queries page.
CREATE TABLE lrs_statement_index (
    scope_id   BIGINT NOT NULL,
    fkey       TEXT   NOT NULL,
    stored_ms  BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (scope_id, fkey, stored_ms, seq)
) WITHOUT ROWID;

-- Activities seen in statements, with the canonical definition.
CREATE TABLE lrs_activities (
    workspace_id  TEXT NOT NULL,
    environment   TEXT NOT NULL,
    activity_key  TEXT NOT NULL,
    activity_id   TEXT NOT NULL,
    definition    TEXT,
    PRIMARY KEY (workspace_id, environment, activity_key)
);

-- Agents seen in statements, one row per identifier and name.
CREATE TABLE lrs_agents (
    workspace_id  TEXT NOT NULL,
    environment   TEXT NOT NULL,
    ifi_key       TEXT NOT NULL,
    name          TEXT NOT NULL,
    agent         TEXT NOT NULL,
    PRIMARY KEY (workspace_id, environment, ifi_key, name)
);

-- State, Activity Profile and Agent Profile documents.
CREATE TABLE lrs_documents (
    workspace_id  TEXT   NOT NULL,
    environment   TEXT   NOT NULL,
    doc_key       TEXT   NOT NULL,
    resource      TEXT   NOT NULL,
    activity_key  TEXT   NOT NULL,
    agent_key     TEXT   NOT NULL,
    registration  TEXT   NOT NULL,
    document_id   TEXT   NOT NULL,
    content_type  TEXT   NOT NULL,
    encoding      TEXT   NOT NULL,
    content       TEXT   NOT NULL,
    etag          TEXT   NOT NULL,
    updated       TEXT   NOT NULL,
    updated_ms    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, environment, doc_key)
);
CREATE INDEX lrs_documents_by_owner
    ON lrs_documents (workspace_id, environment, resource, activity_key, agent_key, registration);
