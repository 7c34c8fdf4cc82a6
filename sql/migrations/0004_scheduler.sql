-- lava-scheduler (src/server/scheduler).

-- Queue timeouts: only the Submitted jobs that have one are looked at.
CREATE INDEX test_jobs_queue_timeout_idx ON test_jobs (submit_time)
    WHERE state = 0 AND queue_timeout IS NOT NULL;

-- Why the Submitted jobs of a device type wait, as of the scheduler's last
-- pass (test_jobs.waiting_reason holds a job's own reason when the pass
-- looked at that job; otherwise its type's applies).
CREATE TABLE device_type_queues (
    device_type     varchar(50) PRIMARY KEY REFERENCES device_types (name) ON DELETE CASCADE ON UPDATE CASCADE,
    waiting_reason  text NOT NULL,
    updated         timestamptz NOT NULL DEFAULT now()
);
