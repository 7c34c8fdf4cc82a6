-- A device's current job (the devices list, the device page, REST's
-- devices/): the jobs still active on it, found without walking its
-- history (a device with 100,000 finished jobs took 15 ms per lookup).
CREATE INDEX test_jobs_active_device_idx ON test_jobs (actual_device, id DESC) WHERE state BETWEEN 1 AND 4;
