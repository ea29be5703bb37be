-- Views of the Import and Course aggregates (projection "courses").

CREATE TABLE imports (
    workspace_id   TEXT   NOT NULL,
    environment    TEXT   NOT NULL,
    import_id      TEXT   NOT NULL,
    course_id      TEXT   NOT NULL,
    status         TEXT   NOT NULL,          -- running | complete | failed
    source         TEXT   NOT NULL,          -- JSON
    title          TEXT,
    version        BIGINT,
    error_code     TEXT,
    error_message  TEXT,
    findings       TEXT   NOT NULL,          -- JSON array
    started_at     TEXT   NOT NULL,
    finished_at    TEXT,
    started_position BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, environment, import_id)
);
CREATE INDEX imports_running ON imports (status, started_at);

CREATE TABLE courses (
    workspace_id     TEXT   NOT NULL,
    environment      TEXT   NOT NULL,
    course_id        TEXT   NOT NULL,
    title            TEXT   NOT NULL,
    standard         TEXT   NOT NULL,
    standard_detail  TEXT   NOT NULL,          -- JSON of the Standard
    authoring_tool   TEXT,
    current_version  BIGINT NOT NULL,
    tags             TEXT   NOT NULL,          -- JSON array
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    deleted_at       TEXT,
    PRIMARY KEY (workspace_id, environment, course_id)
);
CREATE INDEX courses_by_created ON courses (workspace_id, environment, created_at, course_id);

CREATE TABLE course_tags (
    workspace_id  TEXT NOT NULL,
    environment   TEXT NOT NULL,
    course_id     TEXT NOT NULL,
    tag           TEXT NOT NULL,
    PRIMARY KEY (workspace_id, environment, tag, course_id)
);

CREATE TABLE course_versions (
    workspace_id    TEXT   NOT NULL,
    environment     TEXT   NOT NULL,
    course_id       TEXT   NOT NULL,
    version         BIGINT NOT NULL,
    import_id       TEXT   NOT NULL,
    title           TEXT   NOT NULL,
    standard        TEXT   NOT NULL,
    structure       TEXT   NOT NULL,          -- JSON of domain::package::Course
    warnings        TEXT   NOT NULL,          -- JSON array of findings
    package_blob    TEXT   NOT NULL,
    package_size    BIGINT NOT NULL,
    file_count      BIGINT NOT NULL,
    total_size      BIGINT NOT NULL,
    created_at      TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, course_id, version)
);

CREATE TABLE course_files (
    workspace_id  TEXT   NOT NULL,
    environment   TEXT   NOT NULL,
    course_id     TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    path          TEXT   NOT NULL,
    blob          TEXT   NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT   NOT NULL,
    PRIMARY KEY (workspace_id, environment, course_id, version, path)
);

-- How many live course versions (in any workspace) refer to each blob:
-- a blob with none may be collected.
CREATE TABLE blob_references (
    blob  TEXT   NOT NULL PRIMARY KEY,
    refs  BIGINT NOT NULL
);
