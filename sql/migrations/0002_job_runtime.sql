-- The log store's commit point (src/server/store/job_output.hpp): how many
-- lines and bytes of the job's output.yaml are committed. An upload appends
-- to the files, stores its test cases and advances these in one transaction;
-- a tail past them on disk is from an upload that did not commit and is cut
-- before the next one, so a retried batch never stores a line twice.
ALTER TABLE test_jobs
    ADD COLUMN log_lines bigint NOT NULL DEFAULT 0 CHECK (log_lines >= 0),
    ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0 CHECK (log_bytes >= 0);


-- Whether the job has viewing groups, kept by a trigger: the visibility rule
-- tests it on every listed job, so it must not need a subquery per row.
ALTER TABLE test_jobs ADD COLUMN has_viewing_groups boolean NOT NULL DEFAULT false;
UPDATE test_jobs j SET has_viewing_groups = true
WHERE EXISTS (SELECT 1 FROM test_job_viewing_groups g WHERE g.job_id = j.id);

CREATE FUNCTION lava_job_viewing_groups_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE test_jobs SET has_viewing_groups = true WHERE id = NEW.job_id AND NOT has_viewing_groups;
    ELSE
        UPDATE test_jobs j SET has_viewing_groups =
            EXISTS (SELECT 1 FROM test_job_viewing_groups g WHERE g.job_id = OLD.job_id)
        WHERE j.id = OLD.job_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER test_job_viewing_groups_flag
    AFTER INSERT OR DELETE ON test_job_viewing_groups
    FOR EACH ROW EXECUTE FUNCTION lava_job_viewing_groups_changed();

-- Definitions live beside the job, not in it: test_jobs stays narrow (about
-- 200 bytes a row), so counting and scanning jobs (listings, the scheduler)
-- reads a few pages instead of every definition; a definition of a few KB
-- would otherwise sit inline (PostgreSQL moves values out only past 2 KB).
CREATE TABLE test_job_definitions (
    job_id                bigint PRIMARY KEY REFERENCES test_jobs (id) ON DELETE CASCADE,
    definition            text NOT NULL,
    original_definition   text NOT NULL,
    multinode_definition  text NOT NULL DEFAULT ''
);
INSERT INTO test_job_definitions (job_id, definition, original_definition, multinode_definition)
SELECT id, definition, original_definition, multinode_definition FROM test_jobs;
ALTER TABLE test_jobs
    DROP COLUMN definition,
    DROP COLUMN original_definition,
    DROP COLUMN multinode_definition;

-- Public jobs without viewing groups (what anonymous callers and most
-- listings see), newest first: counted and paged from a small index.
CREATE INDEX test_jobs_public_idx ON test_jobs (id DESC) WHERE is_public AND NOT has_viewing_groups;
