-- Each activity's runtime data one row per data model element (projection
-- "registrations"), so that a batch writes only the values it changed;
-- activity_results.data held them all as one JSON document, rewritten by
-- every batch. data_position is the log position of the event the stored
-- values are as of.
CREATE TABLE activity_values (
    workspace_id     TEXT NOT NULL,
    environment      TEXT NOT NULL,
    registration_id  TEXT NOT NULL,
    activity_id      TEXT NOT NULL,
    element          TEXT NOT NULL,
    value            TEXT NOT NULL,
    PRIMARY KEY (workspace_id, environment, registration_id, activity_id, element)
);

ALTER TABLE activity_results DROP COLUMN data;
ALTER TABLE activity_results ADD COLUMN data_position BIGINT NOT NULL DEFAULT 0;

-- The view is rebuilt from the log, so the values of existing activities
-- are in the new table.
DELETE FROM registrations;
DELETE FROM registration_progress;
DELETE FROM activity_results;
DELETE FROM launches;
DELETE FROM runtime_deliveries;
DELETE FROM runtime_log;
DELETE FROM registration_sequencing;
DELETE FROM sequencing_activities;
DELETE FROM sequencing_log;
DELETE FROM learner_globals;
DELETE FROM registration_xapi;
DELETE FROM projection_checkpoints WHERE name = 'registrations';
