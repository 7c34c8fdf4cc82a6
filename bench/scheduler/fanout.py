"""lava-publisher fan-out: E events pushed at full speed into its input (ZMQ
PUSH), received by C anonymous WebSocket clients (asyncio, aiohttp). Prints
the rate events came in (pushed) and went out (messages delivered per
second, all clients together) and the delivery latency p50/p99 (push time,
carried in the event, to the client's receipt).

  /usr/bin/python3 fanout.py CLIENTS EVENTS WS_URL INPUT_ENDPOINT
"""
import asyncio
import json
import sys
import time

import aiohttp
import zmq


async def client(session, url, expected, latencies, ready, done):
    async with session.ws_connect(url, heartbeat=None, max_msg_size=0) as ws:
        ready.release()
        got = 0
        async for msg in ws:
            now = time.time()
            payload = json.loads(json.loads(msg.data)[4])
            if "sent" in payload:
                latencies.append((now - payload["sent"]) * 1000)
                got += 1
                if got == expected:
                    break
    done.append(got)


async def main():
    clients, events, url, endpoint = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    latencies, done = [], []
    ready = asyncio.Semaphore(0)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(client(session, url, events, latencies, ready, done)) for _ in range(clients)]
        for _ in range(clients):
            await ready.acquire()
        await asyncio.sleep(0.5)  # the publisher registers the last clients
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 0)
        push.connect(endpoint)
        start = time.time()
        for i in range(events):
            push.send_multipart([b"org.lavasoftware.worker", b"u", b"2026-01-01T00:00:00", b"lavaserver",
                                 json.dumps({"hostname": "w", "n": i, "sent": time.time()}).encode()])
            if i % 100 == 99:
                await asyncio.sleep(0)  # let the clients read while pushing
        pushed = time.time() - start
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
        elapsed = time.time() - start
        push.close(linger=0)
        ctx.term()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print("%4d clients, %d events: in %.0f events/s, out %.0f messages/s, delivered %d/%d, "
          "latency p50 %.1f ms p99 %.1f ms"
          % (clients, events, events / pushed, len(latencies) / elapsed, sum(done), clients * events,
             p(0.5), p(0.99)))


asyncio.run(main())
