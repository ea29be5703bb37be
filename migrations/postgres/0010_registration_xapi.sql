-- Which platform registration an xAPI registration UUID is (projection
-- "registrations"): statements with that `context.registration` report the
-- registration's progress.

CREATE TABLE registration_xapi (
    workspace_id       TEXT NOT NULL,
    environment        TEXT NOT NULL,
    xapi_registration  TEXT NOT NULL,          -- lowercase UUID
    registration_id    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, environment, xapi_registration)
);
