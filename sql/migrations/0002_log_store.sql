-- The log store's commit point (src/server/store/job_output.hpp): how many
-- lines and bytes of the job's output.yaml are committed. An upload appends
-- to the files, stores its test cases and advances these in one transaction;
-- a tail past them on disk is from an upload that did not commit and is cut
-- before the next one, so a retried batch never stores a line twice.
ALTER TABLE test_jobs
    ADD COLUMN log_lines bigint NOT NULL DEFAULT 0 CHECK (log_lines >= 0),
    ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0 CHECK (log_bytes >= 0);

