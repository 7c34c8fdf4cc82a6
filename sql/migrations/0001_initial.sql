-- lava-cpp schema, version 1.
-- Forward-only: never edit this file once released; add 0002_*.sql instead.
-- Applied by `lava-server manage migrate` inside one transaction.
--
-- Enumerations are stored as smallint with LAVA's values (lava-protocols.md §9.1):
--   job state      0 Submitted 1 Scheduling 2 Scheduled 3 Running 4 Canceling 5 Finished
--   job health     0 Unknown 1 Complete 2 Incomplete 3 Canceled
--   device state   0 Idle 1 Reserved 2 Running
--   device health  0 Good 1 Unknown 2 Looping 3 Bad 4 Maintenance 5 Retired
--   worker state   0 Online 1 Offline
--   worker health  0 Active 1 Maintenance 2 Retired
--   health denominator 0 hours 1 jobs
--   test result    0 pass 1 fail 2 skip 3 unknown

-- ---------------------------------------------------------------- identities

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      varchar(150) NOT NULL UNIQUE CHECK (username <> ''),
    -- Django encoding: pbkdf2_sha256$<iterations>$<salt>$<base64>, or "!" + random for
    -- an unusable password, so users can be moved from a LAVA database unchanged.
    password      varchar(128) NOT NULL,
    email         varchar(254) NOT NULL DEFAULT '',
    first_name    varchar(150) NOT NULL DEFAULT '',
    last_name     varchar(150) NOT NULL DEFAULT '',
    is_active     boolean NOT NULL DEFAULT true,
    is_staff      boolean NOT NULL DEFAULT false,
    is_superuser  boolean NOT NULL DEFAULT false,
    date_joined   timestamptz NOT NULL DEFAULT now(),
    last_login    timestamptz,
    -- ExtendedUser
    irc_handle    varchar(40) NOT NULL DEFAULT '',
    irc_server    varchar(40) NOT NULL DEFAULT '',
    table_length  integer CHECK (table_length IS NULL OR table_length > 0)
);

CREATE TABLE groups (
    id    bigserial PRIMARY KEY,
    name  varchar(150) NOT NULL UNIQUE CHECK (name <> '')
);

CREATE TABLE user_groups (
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_groups_group_idx ON user_groups (group_id);

-- API tokens (XML-RPC Basic auth and REST "Token" auth share them).
CREATE TABLE auth_tokens (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret        varchar(128) NOT NULL UNIQUE CHECK (secret <> ''),
    description   text NOT NULL DEFAULT '',
    created_on    timestamptz NOT NULL DEFAULT now(),
    last_used_on  timestamptz
);
CREATE INDEX auth_tokens_user_idx ON auth_tokens (user_id, id);

-- Tokens a submitter stores for fetching remote artifacts (RemoteArtifactsAuth).
CREATE TABLE remote_artifact_tokens (
    id       bigserial PRIMARY KEY,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name     varchar(100) NOT NULL CHECK (name <> ''),
    token    varchar(100) NOT NULL,
    UNIQUE (user_id, name)
);

-- ---------------------------------------------------------------- hardware catalogue

CREATE TABLE tags (
    id           bigserial PRIMARY KEY,
    name         varchar(50) NOT NULL UNIQUE CHECK (name ~ '^[-_a-zA-Z0-9.]+$'),
    description  text NOT NULL DEFAULT ''
);

CREATE TABLE architectures (
    name  varchar(100) PRIMARY KEY
);
CREATE TABLE processor_families (
    name  varchar(100) PRIMARY KEY
);
CREATE TABLE cores (
    name  varchar(100) PRIMARY KEY
);
CREATE TABLE bit_widths (
    width  smallint PRIMARY KEY CHECK (width > 0)
);

CREATE TABLE device_types (
    name                  varchar(50) PRIMARY KEY CHECK (name ~ '^[-_a-zA-Z0-9.]+$'),
    architecture          varchar(100) REFERENCES architectures (name) ON DELETE SET NULL,
    processor             varchar(100) REFERENCES processor_families (name) ON DELETE SET NULL,
    cpu_model             varchar(100) NOT NULL DEFAULT '',
    bits                  smallint REFERENCES bit_widths (width) ON DELETE SET NULL,
    core_count            smallint CHECK (core_count IS NULL OR core_count > 0),
    description           text NOT NULL DEFAULT '',
    health_frequency      integer NOT NULL DEFAULT 24 CHECK (health_frequency >= 0),
    health_denominator    smallint NOT NULL DEFAULT 0 CHECK (health_denominator BETWEEN 0 AND 1),
    disable_health_check  boolean NOT NULL DEFAULT false,
    display               boolean NOT NULL DEFAULT true
);

CREATE TABLE device_type_cores (
    device_type  varchar(50) NOT NULL REFERENCES device_types (name) ON DELETE CASCADE ON UPDATE CASCADE,
    core         varchar(100) NOT NULL REFERENCES cores (name) ON DELETE CASCADE,
    PRIMARY KEY (device_type, core)
);

-- Another name for a device type, usable in job definitions.
CREATE TABLE aliases (
    name         varchar(200) PRIMARY KEY CHECK (name <> ''),
    device_type  varchar(50) REFERENCES device_types (name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX aliases_device_type_idx ON aliases (device_type);

CREATE TABLE workers (
    hostname     varchar(200) PRIMARY KEY CHECK (hostname ~ '^[-_a-zA-Z0-9.]+$'),
    state        smallint NOT NULL DEFAULT 1 CHECK (state BETWEEN 0 AND 1),
    health       smallint NOT NULL DEFAULT 0 CHECK (health BETWEEN 0 AND 2),
    description  text NOT NULL DEFAULT '',
    last_ping    timestamptz,
    job_limit    integer NOT NULL DEFAULT 0 CHECK (job_limit >= 0),  -- 0 = unlimited
    version      varchar(50) NOT NULL DEFAULT '',
    token        varchar(32) NOT NULL CHECK (length(token) = 32)
);

-- Test jobs come before devices only because devices point at their last health job.
CREATE TABLE test_jobs (
    id                      bigserial PRIMARY KEY,
    sub_id                  varchar(200) NOT NULL DEFAULT '',  -- "<first id>.<n>" in MultiNode
    target_group            varchar(64),                       -- MultiNode group uuid
    submitter_id            bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    is_public               boolean NOT NULL DEFAULT false,
    description             varchar(200) NOT NULL DEFAULT '',  -- job_name
    health_check            boolean NOT NULL DEFAULT false,
    requested_device_type   varchar(50) REFERENCES device_types (name) ON DELETE RESTRICT ON UPDATE CASCADE,
    requested_device        varchar(200),                      -- job key `device:` (upstream)
    requested_worker        varchar(200),                      -- job key `worker:` (upstream)
    actual_device           varchar(200),                      -- FK added below
    submit_time             timestamptz NOT NULL DEFAULT now(),
    start_time              timestamptz,
    end_time                timestamptz,
    state                   smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 5),
    health                  smallint NOT NULL DEFAULT 0 CHECK (health BETWEEN 0 AND 3),
    priority                smallint NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
    definition              text NOT NULL,
    original_definition     text NOT NULL,
    multinode_definition    text NOT NULL DEFAULT '',
    pipeline_compatibility  integer NOT NULL DEFAULT 0,
    queue_timeout           bigint CHECK (queue_timeout IS NULL OR queue_timeout > 0),  -- seconds
    failure_comment         text,
    token                   varchar(32) NOT NULL CHECK (length(token) = 32),
    metadata                jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Why a Submitted job still waits (filled by lava-scheduler).
    waiting_reason          text NOT NULL DEFAULT '',
    CHECK (state <> 5 OR end_time IS NOT NULL)
);

CREATE TABLE devices (
    hostname                    varchar(200) PRIMARY KEY CHECK (hostname ~ '^[-_a-zA-Z0-9.]+$'),
    device_type                 varchar(50) NOT NULL REFERENCES device_types (name) ON DELETE RESTRICT ON UPDATE CASCADE,
    device_version              varchar(200) NOT NULL DEFAULT '',
    physical_owner_id           bigint REFERENCES users (id) ON DELETE SET NULL,
    physical_group_id           bigint REFERENCES groups (id) ON DELETE SET NULL,
    owner_id                    bigint REFERENCES users (id) ON DELETE SET NULL,
    group_id                    bigint REFERENCES groups (id) ON DELETE SET NULL,
    description                 text NOT NULL DEFAULT '',
    state                       smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2),
    health                      smallint NOT NULL DEFAULT 4 CHECK (health BETWEEN 0 AND 5),
    last_health_report_job      bigint UNIQUE REFERENCES test_jobs (id) ON DELETE SET NULL,
    worker_host                 varchar(200) REFERENCES workers (hostname) ON DELETE SET NULL ON UPDATE CASCADE,
    is_synced                   boolean NOT NULL DEFAULT false,
    CHECK (physical_owner_id IS NULL OR physical_group_id IS NULL),
    CHECK (owner_id IS NULL OR group_id IS NULL)
);
CREATE INDEX devices_worker_idx ON devices (worker_host);
-- The scheduler's scan: devices of a type by state and health.
CREATE INDEX devices_type_state_idx ON devices (device_type, state, health);

ALTER TABLE test_jobs
    ADD CONSTRAINT test_jobs_actual_device_fkey FOREIGN KEY (actual_device)
        REFERENCES devices (hostname) ON DELETE SET NULL ON UPDATE CASCADE,
    ADD CONSTRAINT test_jobs_requested_device_fkey FOREIGN KEY (requested_device)
        REFERENCES devices (hostname) ON DELETE SET NULL ON UPDATE CASCADE,
    ADD CONSTRAINT test_jobs_requested_worker_fkey FOREIGN KEY (requested_worker)
        REFERENCES workers (hostname) ON DELETE SET NULL ON UPDATE CASCADE;

CREATE TABLE device_tags (
    device  varchar(200) NOT NULL REFERENCES devices (hostname) ON DELETE CASCADE ON UPDATE CASCADE,
    tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (device, tag_id)
);
CREATE INDEX device_tags_tag_idx ON device_tags (tag_id);

-- ---------------------------------------------------------------- permissions

-- Per-group permissions on device types, devices and workers ("view", "submit",
-- "change", "admin" in LAVA's naming: lava_scheduler_app.<codename>).
CREATE TABLE group_device_type_permissions (
    id           bigserial PRIMARY KEY,
    group_id     bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    device_type  varchar(50) NOT NULL REFERENCES device_types (name) ON DELETE CASCADE ON UPDATE CASCADE,
    permission   varchar(100) NOT NULL CHECK (permission <> ''),
    UNIQUE (group_id, device_type, permission)
);
CREATE INDEX group_device_type_permissions_dt_idx ON group_device_type_permissions (device_type);

CREATE TABLE group_device_permissions (
    id          bigserial PRIMARY KEY,
    group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    device      varchar(200) NOT NULL REFERENCES devices (hostname) ON DELETE CASCADE ON UPDATE CASCADE,
    permission  varchar(100) NOT NULL CHECK (permission <> ''),
    UNIQUE (group_id, device, permission)
);
CREATE INDEX group_device_permissions_device_idx ON group_device_permissions (device);

CREATE TABLE group_worker_permissions (
    id          bigserial PRIMARY KEY,
    group_id    bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    worker      varchar(200) NOT NULL REFERENCES workers (hostname) ON DELETE CASCADE ON UPDATE CASCADE,
    permission  varchar(100) NOT NULL CHECK (permission <> ''),
    UNIQUE (group_id, worker, permission)
);
CREATE INDEX group_worker_permissions_worker_idx ON group_worker_permissions (worker);

-- ---------------------------------------------------------------- jobs

-- The scheduler's queue: Submitted jobs of a device type in LAVA's order
-- (priority desc, submit_time, sub_id, id). Partial: only Submitted rows.
CREATE INDEX test_jobs_queue_idx ON test_jobs
    (requested_device_type, priority DESC, submit_time, sub_id, id) WHERE state = 0;
-- Job lists filtered by state and health (and LAVA's own composite index).
CREATE INDEX test_jobs_state_health_idx ON test_jobs (state, health);
CREATE INDEX test_jobs_health_state_type_idx ON test_jobs (health, state, requested_device_type);
-- Job lists are ordered by id desc: served by the primary key read backwards.
-- A device's current and past jobs.
CREATE INDEX test_jobs_actual_device_idx ON test_jobs (actual_device, id DESC);
CREATE INDEX test_jobs_submitter_idx ON test_jobs (submitter_id, id DESC);
CREATE INDEX test_jobs_target_group_idx ON test_jobs (target_group) WHERE target_group IS NOT NULL;
CREATE INDEX test_jobs_end_time_idx ON test_jobs (end_time) WHERE end_time IS NOT NULL;
-- Health-check frequency: the last health jobs per device.
CREATE INDEX test_jobs_health_check_idx ON test_jobs (actual_device, submit_time DESC) WHERE health_check;

CREATE TABLE test_job_tags (
    job_id  bigint NOT NULL REFERENCES test_jobs (id) ON DELETE CASCADE,
    tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE RESTRICT,
    PRIMARY KEY (job_id, tag_id)
);

CREATE TABLE test_job_viewing_groups (
    job_id    bigint NOT NULL REFERENCES test_jobs (id) ON DELETE CASCADE,
    group_id  bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, group_id)
);
CREATE INDEX test_job_viewing_groups_group_idx ON test_job_viewing_groups (group_id, job_id);

CREATE TABLE job_failure_tags (
    id           bigserial PRIMARY KEY,
    name         varchar(256) NOT NULL UNIQUE,
    description  text NOT NULL DEFAULT ''
);

CREATE TABLE test_job_failure_tags (
    job_id          bigint NOT NULL REFERENCES test_jobs (id) ON DELETE CASCADE,
    failure_tag_id  bigint NOT NULL REFERENCES job_failure_tags (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, failure_tag_id)
);

-- Favourite jobs of a user (TestJobUser).
CREATE TABLE test_job_users (
    job_id       bigint NOT NULL REFERENCES test_jobs (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_favorite  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, user_id)
);

-- ---------------------------------------------------------------- notifications

CREATE TABLE notifications (
    id                   bigserial PRIMARY KEY,
    job_id               bigint NOT NULL UNIQUE REFERENCES test_jobs (id) ON DELETE CASCADE,
    -- criteria.status: all finished running complete canceled incomplete
    criteria_status      varchar(20) NOT NULL,
    -- criteria.type: regression, progression (with status complete/incomplete)
    criteria_type        varchar(20),
    dependency_query     varchar(1024),
    verbosity            varchar(20) NOT NULL DEFAULT 'quiet'
                             CHECK (verbosity IN ('verbose', 'quiet', 'status-only')),
    template             varchar(50) NOT NULL DEFAULT '',
    blacklist            text[] NOT NULL DEFAULT '{}',
    query_name           varchar(1024),
    query_owner_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    entity               varchar(50),
    conditions           varchar(400),
    time_sent            timestamptz
);

CREATE TABLE notification_recipients (
    id               bigserial PRIMARY KEY,
    notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id          bigint REFERENCES users (id) ON DELETE CASCADE,
    email            varchar(100),
    irc_handle       varchar(40),
    irc_server       varchar(40),
    method           varchar(10) NOT NULL CHECK (method IN ('email', 'irc')),
    status           varchar(20) NOT NULL DEFAULT 'not sent'
);
CREATE INDEX notification_recipients_notification_idx ON notification_recipients (notification_id);

CREATE TABLE notification_callbacks (
    id               bigserial PRIMARY KEY,
    notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    url              text NOT NULL,
    method           varchar(4) NOT NULL DEFAULT 'GET' CHECK (method IN ('GET', 'POST')),
    token            text,
    header           varchar(100) NOT NULL DEFAULT 'Authorization',
    dataset          varchar(10) NOT NULL DEFAULT 'minimal'
                         CHECK (dataset IN ('minimal', 'logs', 'results', 'all')),
    content_type     varchar(12) NOT NULL DEFAULT 'urlencoded'
                         CHECK (content_type IN ('json', 'urlencoded'))
);
CREATE INDEX notification_callbacks_notification_idx ON notification_callbacks (notification_id);

-- ---------------------------------------------------------------- results

CREATE TABLE test_suites (
    id      bigserial PRIMARY KEY,
    job_id  bigint NOT NULL REFERENCES test_jobs (id) ON DELETE CASCADE,
    name    varchar(200) NOT NULL,  -- "lava" or "<idx>_<test definition name>"
    UNIQUE (job_id, name)
);

CREATE TABLE test_sets (
    id        bigserial PRIMARY KEY,
    suite_id  bigint NOT NULL REFERENCES test_suites (id) ON DELETE CASCADE,
    name      varchar(200) NOT NULL,
    UNIQUE (suite_id, name)
);

CREATE TABLE test_cases (
    id              bigserial PRIMARY KEY,
    suite_id        bigint NOT NULL REFERENCES test_suites (id) ON DELETE CASCADE,
    test_set_id     bigint REFERENCES test_sets (id) ON DELETE CASCADE,
    name            text NOT NULL,
    units           text NOT NULL DEFAULT '',
    result          smallint NOT NULL CHECK (result BETWEEN 0 AND 3),
    measurement     numeric(30, 10),
    metadata        varchar(4096),  -- YAML dump of the `results` message
    start_log_line  bigint CHECK (start_log_line IS NULL OR start_log_line >= 0),
    end_log_line    bigint CHECK (end_log_line IS NULL OR end_log_line >= 0),
    logged          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX test_cases_suite_idx ON test_cases (suite_id, id);

-- ---------------------------------------------------------------- history

-- Append-only history of device and worker state/health changes: who, when, why.
-- Rows carry names, not foreign keys, so the history outlives what it describes.
CREATE TABLE device_state_changes (
    id          bigserial PRIMARY KEY,
    device      varchar(200) NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    actor       varchar(150) NOT NULL,  -- username, or the daemon ("lava-scheduler")
    old_state   smallint CHECK (old_state BETWEEN 0 AND 2),
    new_state   smallint NOT NULL CHECK (new_state BETWEEN 0 AND 2),
    old_health  smallint CHECK (old_health BETWEEN 0 AND 5),
    new_health  smallint NOT NULL CHECK (new_health BETWEEN 0 AND 5),
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX device_state_changes_device_idx ON device_state_changes (device, id DESC);

CREATE TABLE worker_state_changes (
    id          bigserial PRIMARY KEY,
    worker      varchar(200) NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    actor       varchar(150) NOT NULL,
    old_state   smallint CHECK (old_state BETWEEN 0 AND 1),
    new_state   smallint NOT NULL CHECK (new_state BETWEEN 0 AND 1),
    old_health  smallint CHECK (old_health BETWEEN 0 AND 2),
    new_health  smallint NOT NULL CHECK (new_health BETWEEN 0 AND 2),
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX worker_state_changes_worker_idx ON worker_state_changes (worker, id DESC);

CREATE FUNCTION lava_reject_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER device_state_changes_append_only
    BEFORE UPDATE OR DELETE ON device_state_changes
    FOR EACH STATEMENT EXECUTE FUNCTION lava_reject_history_rewrite();
CREATE TRIGGER worker_state_changes_append_only
    BEFORE UPDATE OR DELETE ON worker_state_changes
    FOR EACH STATEMENT EXECUTE FUNCTION lava_reject_history_rewrite();

-- ---------------------------------------------------------------- seed data

-- The user that health-check jobs are submitted as; it cannot log in.
INSERT INTO users (username, password, is_active)
VALUES ('lava-health', '!lava-health-has-no-password', true);
