"""Synchronous sentiment invoke: dynamic batching against one request, one forward pass.

    python -m bench.serving [--model lstm|bow] [--seconds 8] [--clients 1,8,64] [--repeats 3]
                            [--device cpu|cuda] [--web-processes 1]

Starts a real daphne (the studio's ASGI app; ``--web-processes N``: N uvicorn workers instead, as
``runstudio --web-processes N`` runs them) and the invoke server (``manage.py serve_invoke``) on a
scratch SQLite database and the Redis at REDIS_URL (default redis://127.0.0.1:6379/4), makes a user,
a token and an active sentiment model (the Udacity LSTM 400/256/2 on 200 words with random
weights, or the bag of words), then loads ``POST /api/tools/sentiment/invoke`` over loopback HTTP
with 1, 8 and 64 concurrent clients (threads, keep-alive connections) for a fixed time each. It
runs twice in the same script, the invoke server gathering up to 64 requests within 5 ms, then
with ``--max-batch 1``, and prints both side by side: requests per second and latency p50 / p99.
The load generator shares the machine's cores with the server, as a loopback test does. The invoke
server puts the model on ``--device`` (default: CUDA where there is one, as ``serve_invoke`` does).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.studio_client import free_port, quantile

ROOT = Path(__file__).resolve().parent.parent


def setup(env: dict[str, str], model: str) -> str:
    """Migrate the scratch database, add the model and a user; the user's API token."""
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    import torch
    from django.contrib.auth.models import User

    from apps.api.models import ApiToken
    from apps.catalog import services
    from ml.common.checkpoint import checkpoint_dict
    from ml.sentiment.config import SentimentConfig
    from ml.sentiment.model import build_model

    torch.manual_seed(0)
    cfg = SentimentConfig(words=[f"w{i}" for i in range(10_000)], kind=model, length=200)
    buffer = io.BytesIO()
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=build_model(cfg).state_dict())
    torch.save(ckpt, buffer)
    buffer.seek(0)
    version = services.add_version("sentiment", f"bench {model}", buffer, "bench.pt")
    services.validate_version(version)
    services.activate(version)
    return ApiToken.issue(User.objects.create_user("bench"), "bench")[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def wait_answering(port: int, token: str, timeout: float = 120) -> None:
    """Until the invoke server (just started: Django, torch, the model) answers one request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/tools/sentiment/invoke", json.dumps({"text": "w1 w2"}),
                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status == 200:
            return
    raise RuntimeError("the invoke server did not answer")


def load(port: int, token: str, clients: int, seconds: float, texts: list[str]) -> dict[str, float]:
    """``clients`` threads posting invokes back to back for ``seconds``; throughput and latencies."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        mine, i = [], n
        while time.monotonic() < stop_at:
            body = json.dumps({"text": texts[i % len(texts)]})
            i += clients
            t0 = time.perf_counter()
            conn.request("POST", "/api/tools/sentiment/invoke", body, headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                mine.append(time.perf_counter() - t0)
            else:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"rps": len(latencies) / elapsed, "p50": 1000 * quantile(latencies, 0.50),
            "p99": 1000 * quantile(latencies, 0.99), "n": len(latencies), "errors": errors[0],
            "mean": 1000 * statistics.fmean(latencies) if latencies else float("nan")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["lstm", "bow"], default="lstm")
    p.add_argument("--seconds", type=float, default=8.0, help="load time per client count")
    p.add_argument("--clients", default="1,8,64")
    p.add_argument("--repeats", type=int, default=3, help="runs of each mode (the median is printed)")
    p.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4"))
    p.add_argument("--device", default="", help="the invoke server's device (STUDIO_DEVICE); default: "
                                                 "CUDA if present, else the CPU")
    p.add_argument("--web-processes", type=int, default=1,
                   help="1: daphne (the default); more: uvicorn worker processes, as runstudio runs them")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]

    scratch = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="studio.settings", STUDIO_VAR_DIR=str(scratch),
               DATABASE_URL=f"sqlite:///{scratch / 'bench.sqlite3'}", REDIS_URL=args.redis,
               STUDIO_API_REQUESTS_PER_MINUTE="100000000", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if args.device:
        env["STUDIO_DEVICE"] = args.device
    import redis

    store = redis.Redis.from_url(args.redis)
    store.flushdb()
    token = setup(env, args.model)
    from apps.embedded import web as web_server
    from apps.serving import stats
    from ml.common.device import pick_device

    port = free_port()
    web = subprocess.Popen(web_server.command("127.0.0.1", port, args.web_processes), cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    texts = [" ".join(f"w{(i * 7 + j * 13) % 12_000}" for j in range(30 + i % 170)) for i in range(500)]
    runs: dict[int, list[dict[int, dict[str, float]]]] = {64: [], 1: []}
    per_pass: dict[int, list[float]] = {64: [], 1: []}  # requests per forward pass (server counters)
    try:
        wait_port(port)
        # The two modes alternate, so a slow spell of a shared machine does not land on one alone.
        for max_batch in [64, 1] * args.repeats:
            command = [sys.executable, "manage.py", "serve_invoke", "--max-batch", str(max_batch),
                       "--window-ms", "5"]
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
            try:
                wait_answering(port, token)
                load(port, token, 4, 2.0, texts)  # warm-up: model loaded, connections open
                store.delete(stats.STATS_KEY)
                runs[max_batch].append({c: load(port, token, c, args.seconds, texts) for c in counts})
                rows = stats.read(store)
                passes = max(1, sum(r.batches for r in rows))
                per_pass[max_batch].append(sum(r.requests for r in rows) / passes)
            finally:
                server.terminate()
                server.wait(10)
    finally:
        web.terminate()
        web.wait(10)

    import torch

    def median_run(mode: int, clients: int) -> dict[str, float]:
        """The run with the median throughput (its latencies with it), of the repeats."""
        ordered = sorted((run[clients] for run in runs[mode]), key=lambda r: r["rps"])
        return ordered[len(ordered) // 2]

    net = "Udacity 400/256/2, " if args.model == "lstm" else ""
    print(f"sentiment invoke over loopback HTTP: model {args.model} ({net}200 words) on "
          f"{pick_device(args.device or None)}, {args.seconds:g} s per client count, torch "
          f"{torch.__version__}, {os.cpu_count()} CPUs, "
          f"{'daphne' if args.web_processes == 1 else f'{args.web_processes} uvicorn web processes'}, "
          "server and load generator on the same machine; "
          f"median of {args.repeats} alternating runs per mode")
    print("clients | batched (<= 64 per forward, 5 ms): req/s   p50 ms   p99 ms | one per forward: req/s   "
          "p50 ms   p99 ms | throughput x")
    for c in counts:
        b, s = median_run(64, c), median_run(1, c)
        print(f"{c:>7} | {b['rps']:>40.1f} {b['p50']:>8.1f} {b['p99']:>8.1f} | {s['rps']:>21.1f} "
              f"{s['p50']:>8.1f} {s['p99']:>8.1f} | x{b['rps'] / s['rps']:.2f}   "
              f"(errors {b['errors']} / {s['errors']})")
    print(f"requests per forward pass, per run: batched {', '.join(f'{x:.1f}' for x in per_pass[64])}; "
          f"one per forward {', '.join(f'{x:.1f}' for x in per_pass[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
