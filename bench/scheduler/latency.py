"""Submit -> Scheduled event latency on a WebSocket client, one idle device.

For each of N submissions (REST, as LAVA_ADMIN_USER): the time from sending
the request to the WebSocket message saying the job is Scheduled; then the
job is read back through the API, which must already say Scheduled on the
device the event named (the event is sent after the commit). Between
submissions the job is ended and the device freed in SQL (not measured).

  /usr/bin/python3 latency.py N   (environment: a tools/lab lab.env)
"""
import json
import os
import subprocess
import sys
import time

import requests
import websocket

JOB = """job_name: latency
device_type: qemu
visibility: public
timeouts: {job: {minutes: 10}}
actions:
- boot: {method: qemu, media: tmpfs, prompts: ['# ']}
"""


def sql(statement):
    subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", statement], check=True,
                   capture_output=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    url, token = os.environ["LAVA_URL"], os.environ["LAVA_ADMIN_TOKEN"]
    session = requests.Session()
    session.headers["Authorization"] = "Token " + token
    ws = websocket.create_connection(os.environ["LAVA_WS_URL"], timeout=10)
    latencies, disagreements = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = session.post(url + "/api/v0.2/jobs/", data={"definition": JOB})
        job_id = r.json()["job_ids"][0]
        while True:
            topic, _, _, _, payload = json.loads(ws.recv())
            payload = json.loads(payload)
            if topic.endswith(".testjob") and payload["job"] == job_id and payload["state"] == "Scheduled":
                break
        latencies.append((time.perf_counter() - t0) * 1000)
        back = session.get(url + "/api/v0.2/jobs/%d/" % job_id).json()
        if (back["state"], back["actual_device"]) != ("Scheduled", payload["device"]):
            disagreements += 1
        sql("UPDATE test_jobs SET state = 5, health = 1, end_time = now() WHERE id = %d;"
            "UPDATE devices SET state = 0 WHERE hostname = '%s'" % (job_id, payload["device"]))
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print("%d submissions: p50 %.1f ms, p99 %.1f ms, max %.1f ms; API disagreed with the event %d times"
          % (n, p(0.50), p(0.99), latencies[-1], disagreements))


main()
