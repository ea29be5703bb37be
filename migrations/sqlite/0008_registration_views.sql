-- Views of the Registration aggregate (projection "registrations").

CREATE TABLE registrations (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    course_id        TEXT   NOT NULL,
    course_version   BIGINT NOT NULL,
    activities       TEXT   NOT NULL,          -- JSON array of launchable activity ids
    learner_id       TEXT   NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    email            TEXT,
    tags             TEXT   NOT NULL,          -- JSON array
    attempt          BIGINT NOT NULL,
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    deleted_at       TEXT,
    PRIMARY KEY (workspace_id, environment, registration_id)
);
CREATE INDEX registrations_by_course ON registrations (workspace_id, environment, course_id, created_at);
CREATE INDEX registrations_by_learner ON registrations (workspace_id, environment, learner_id, created_at);
CREATE INDEX registrations_by_created ON registrations (workspace_id, environment, created_at, registration_id);

CREATE TABLE registration_progress (
    workspace_id          TEXT   NOT NULL,
    environment           TEXT   NOT NULL,
    registration_id       TEXT   NOT NULL,
    attempt               BIGINT NOT NULL,
    completion            TEXT   NOT NULL,     -- completed | incomplete | not_attempted | unknown
    success               TEXT   NOT NULL,     -- passed | failed | unknown
    score_scaled          DOUBLE PRECISION,
    score_raw             DOUBLE PRECISION,
    score_min             DOUBLE PRECISION,
    score_max             DOUBLE PRECISION,
    total_time_seconds    DOUBLE PRECISION NOT NULL,   -- reported by the content
    measured_seconds      BIGINT NOT NULL,             -- measured by the server
    first_access          TEXT,
    last_access           TEXT,
    completed_at          TEXT,
    PRIMARY KEY (workspace_id, environment, registration_id)
);

CREATE TABLE activity_results (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    activity_id      TEXT   NOT NULL,
    attempt          BIGINT NOT NULL,
    completion       TEXT   NOT NULL,
    success          TEXT   NOT NULL,
    score_scaled     DOUBLE PRECISION,
    score_raw        DOUBLE PRECISION,
    score_min        DOUBLE PRECISION,
    score_max        DOUBLE PRECISION,
    total_time_seconds DOUBLE PRECISION,
    summary          TEXT   NOT NULL,          -- JSON of the RuntimeSummary
    data             TEXT   NOT NULL,          -- JSON of every stored data model value
    updated_at       TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, registration_id, activity_id)
);

CREATE TABLE launches (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    session_id       TEXT   NOT NULL,
    attempt          BIGINT NOT NULL,
    resumed          BOOLEAN NOT NULL,
    user_agent       TEXT,
    ip               TEXT,
    started_at       TEXT   NOT NULL,
    last_seen_at     TEXT   NOT NULL,
    superseded_at    TEXT,
    batches          BIGINT NOT NULL,
    refused_batches  BIGINT NOT NULL,
    measured_seconds BIGINT NOT NULL,
    exit             TEXT,
    PRIMARY KEY (workspace_id, environment, registration_id, session_id)
);

-- The delivery each session has now, and where it began in the log: the
-- runtime log orders calls by (delivery position, seq).
CREATE TABLE runtime_deliveries (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    session_id       TEXT   NOT NULL,
    activity_id      TEXT   NOT NULL,
    delivery_position BIGINT NOT NULL,
    context          TEXT   NOT NULL,          -- JSON of the LaunchContext the delivery started from
    PRIMARY KEY (workspace_id, environment, registration_id, session_id)
);

CREATE TABLE runtime_log (
    workspace_id      TEXT   NOT NULL,
    environment       TEXT   NOT NULL,
    registration_id   TEXT   NOT NULL,
    delivery_position BIGINT NOT NULL,
    seq               BIGINT NOT NULL,
    session_id        TEXT   NOT NULL,
    activity_id       TEXT   NOT NULL,
    batch             BIGINT,
    call_fn           TEXT   NOT NULL,
    element           TEXT,
    value             TEXT,
    result            TEXT   NOT NULL,
    error             BIGINT NOT NULL,
    server_result     TEXT,
    server_error      BIGINT,
    client_at         TEXT,
    server_at         TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, registration_id, delivery_position, seq)
);
