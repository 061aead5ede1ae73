#!/usr/bin/env python3
"""A Python open-loop load client built the way the Python peers build theirs, for
side-by-side comparison with frontier (benches/peer-compare.sh runs both).

Like vLLM's `bench serve` and SGLang's bench_serving it runs one asyncio event loop, draws
Poisson inter-arrival gaps, waits for each with `asyncio.sleep`, launches every request as a
task and streams the SSE response with aiohttp, taking TTFT at the first content chunk. It
records, per request, how late the launch was against the precomputed schedule (the same
"schedule lag" frontier reports), and prints one JSON object: target and achieved launch
rate, lag percentiles, the process's CPU use, errors.

Usage: peer_client.py --url http://127.0.0.1:8000/v1 --rate 1000 --seconds 3 --tokens 16
Needs aiohttp (`python3 -m pip install aiohttp`).
"""

import argparse
import asyncio
import json
import random
import resource
import time

import aiohttp


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


async def one_request(session, url, body, results):
    sent = time.perf_counter()
    first = None
    try:
        async with session.post(url, json=body) as resp:
            if resp.status != 200:
                results.append(("http_%d" % resp.status, None))
                await resp.read()
                return
            async for line in resp.content:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                chunk = json.loads(payload)
                choices = chunk.get("choices") or []
                if first is None and choices and choices[0].get("text"):
                    first = time.perf_counter()
        results.append((None, None if first is None else (first - sent) * 1e3))
    except Exception as e:  # noqa: BLE001 - every failure is a row
        results.append((type(e).__name__, None))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000/v1")
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    n = max(10, int(args.rate * args.seconds))
    rng = random.Random(args.seed)
    url = args.url.rstrip("/") + "/completions"
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    results = []
    lags = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        start = time.perf_counter() + 0.05
        deadline = start
        for i in range(n):
            deadline += rng.expovariate(args.rate)
            delay = deadline - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            lags.append((now - deadline) * 1e3)
            body = {
                "model": "sim",
                "prompt": "calibration request %08d" % i,
                "max_tokens": args.tokens,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            tasks.append(asyncio.create_task(one_request(session, url, body, results)))
        launched = time.perf_counter()
        await asyncio.gather(*tasks)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - start
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    lags.sort()
    ttfts = sorted(t for e, t in results if e is None and t is not None)
    errors = sum(1 for e, _ in results if e is not None)
    print(json.dumps({
        "client": "python-asyncio-aiohttp",
        "rate": args.rate,
        "requests": n,
        "target_rate": n / (deadline - start),
        "achieved_rate": n / (launched - start),
        "lag_p50_ms": percentile(lags, 0.5),
        "lag_p99_ms": percentile(lags, 0.99),
        "lag_max_ms": lags[-1],
        "ttft_p50_ms": percentile(ttfts, 0.5),
        "ttft_p99_ms": percentile(ttfts, 0.99),
        "cpu_util": cpu / wall,
        "cpu_s": cpu,
        "errors": errors,
    }))


if __name__ == "__main__":
    asyncio.run(main())
