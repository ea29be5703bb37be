-- Sequencing views of the Registration aggregate (projection "registrations"):
-- the SCORM 2004 sequencer's state per registration, each activity's
-- effective status, every decision it made, and what learners share across
-- registrations (global objectives, adl.data).

CREATE TABLE registration_sequencing (
    workspace_id       TEXT   NOT NULL,
    environment        TEXT   NOT NULL,
    registration_id    TEXT   NOT NULL,
    attempt            BIGINT NOT NULL,
    seed               TEXT   NOT NULL,    -- of selection and randomization (u64 as text)
    current_activity   TEXT,
    suspended_activity TEXT,
    decisions          BIGINT NOT NULL,
    updated_at         TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, registration_id)
);

CREATE TABLE sequencing_activities (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    activity_id      TEXT   NOT NULL,
    ordinal          BIGINT NOT NULL,     -- tree preorder, root 0
    attempt_count    BIGINT NOT NULL,
    active           BOOLEAN NOT NULL,
    suspended        BOOLEAN NOT NULL,
    completion       TEXT   NOT NULL,     -- completed | incomplete | not_attempted | unknown
    success          TEXT   NOT NULL,     -- passed | failed | unknown
    measure          DOUBLE PRECISION,
    progress_measure DOUBLE PRECISION,
    objectives       TEXT   NOT NULL,     -- JSON: the activity's objectives read through their maps
    PRIMARY KEY (workspace_id, environment, registration_id, activity_id)
);

CREATE TABLE sequencing_log (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    registration_id  TEXT   NOT NULL,
    position         BIGINT NOT NULL,     -- of the SequencingDecided event
    attempt          BIGINT NOT NULL,
    session_id       TEXT   NOT NULL,
    input            TEXT   NOT NULL,     -- navigate | commit | terminate | load_global_objectives
    request          TEXT,                -- the navigation request processed (adl.nav.request spelling)
    activity_id      TEXT,                -- the activity whose data the input carried
    outcome          TEXT   NOT NULL,     -- delivered | session_ended | nothing_delivered | exception | recorded
    delivered        TEXT,
    exception        TEXT,                -- the SN book's code, e.g. NB.2.1-2
    current_activity TEXT,
    changed          BIGINT NOT NULL,     -- activities whose tracking data changed
    at               TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, registration_id, position)
);

CREATE TABLE learner_globals (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    learner_id       TEXT   NOT NULL,
    kind             TEXT   NOT NULL,     -- objective | shared_data
    target_id        TEXT   NOT NULL,
    value            TEXT   NOT NULL,     -- objective: JSON of its state; shared_data: the stored text
    registration_id  TEXT   NOT NULL,     -- the registration that wrote it last
    updated_at       TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, learner_id, kind, target_id)
);

-- A Commit or Terminate the host failed (the player could not reach the
-- server) is replayed as failed.
ALTER TABLE runtime_log ADD COLUMN host_failure BOOLEAN NOT NULL DEFAULT FALSE;
