-- Views of the workspace aggregate (projection "workspaces").
CREATE TABLE workspaces (
    workspace_id  TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE api_keys (
    workspace_id  TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    environment   TEXT NOT NULL,
    label         TEXT,
    hint          TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    PRIMARY KEY (workspace_id, key_id)
);
