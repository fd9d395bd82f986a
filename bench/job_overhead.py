"""Job overhead: what the studio adds around a trivial job's own work, submit -> ``succeeded``.

    python -m bench.job_overhead [--jobs 30] [--studio-log PATH] [--compare CHECKOUT ...]

``manage.py runstudio`` on a fresh STUDIO_VAR_DIR (the embedded default: SQLite, embedded Redis,
one Celery worker), log in over HTTP, then submit DCGAN grids of one image one after the other as a
browser does (the form's POST, then the job's WebSocket) after one untimed cold job that loads the
model. Per job: overhead = the ``succeeded`` event's server timestamp minus the moment before the
POST, less the job's own ``seconds`` (its result: the generator's forward and the two PNGs). The
same machine stamps both ends, so no clock skew. The breakdown comes from the stored events'
timestamps. With --compare, one studio per checkout, all up at once and their jobs interleaved, so
before and after see the same load. The last run is in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import uuid
from contextlib import ExitStack
from pathlib import Path
from statistics import median, quantiles

from bench.studio_client import (
    Browser,
    at,
    load_average,
    result_figure,
    running_studio,
    sign_in,
    stored_events,
    submit_job,
    wait_for_end,
)

ROOT = Path(__file__).resolve().parents[1]

# The cheapest real tool: DCGAN's starter is a registry package (a fresh studio installs it in
# seconds; the sentiment starters are trained at first start, minutes on this machine) and one 64x64
# image is a few milliseconds of generator. Its job takes the path every tool's does: queued,
# running, a progress event at the model's start and end, result files and rows, succeeded.
TOOL, FIELDS = "dcgan", {"mode": "grid", "n": "1", "seed": "0"}


def one_job(browser: Browser, token: str) -> dict[str, float]:
    """Submit one job, wait for its end on its WebSocket; its times in seconds."""
    job = submit_job(browser, TOOL, {**FIELDS, "csrfmiddlewaretoken": token}, {})
    event, t_event = wait_for_end(browser, job.job_id)
    if event["data"]["state"] != "succeeded":
        raise RuntimeError(f"job {job.job_id} {event['data']['state']}: {event['data'].get('error')}")
    seconds = result_figure(browser.request(f"/jobs/{job.job_id}/")[2], "seconds")
    if seconds is None:
        raise RuntimeError(f"job {job.job_id}: no result seconds on its page")
    events = stored_events(browser, job.job_id)
    states = {e["data"]["state"]: at(e) for e in events if e["kind"] == "state"}
    progress = [at(e) for e in events if e["kind"] == "progress"]
    done = states["succeeded"]
    return {"overhead": done - job.wall - seconds, "total": done - job.wall, "model": seconds,
            "post": job.post, "submit": states["queued"] - job.wall,
            "queue": states["running"] - states["queued"], "start": progress[0] - states["running"],
            "around": done - progress[0] - seconds, "finish": done - progress[-1],
            "push": job.wall + (t_event - job.start) - done}


def p50(runs: list[dict[str, float]], key: str) -> float:
    return median(r[key] for r in runs) * 1000


def p95(runs: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in runs]
    return (quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]) * 1000


def report(label: str, runs: list[dict[str, float]]) -> None:
    mid = {key: f"{p50(runs, key):.0f}" for key in runs[0]}
    high = {key: f"{p95(runs, key):.0f}" for key in runs[0]}
    print(f"job overhead ({TOOL} grid n=1, 2 PNGs; {label}): p50 {mid['overhead']} ms, p95 "
          f"{high['overhead']} ms over {len(runs)} jobs; submit->succeeded p50 {mid['total']} ms, the "
          f"job's own time p50 {mid['model']} ms; {load_average()}")
    print(f"    submit->queued {mid['submit']} (POST->302 {mid['post']}), queued->running {mid['queue']}, "
          f"running->model start {mid['start']}, model start->succeeded less the job's own time "
          f"{mid['around']} (last progress->succeeded {mid['finish']}); not in the overhead: "
          f"succeeded->WebSocket {mid['push']} (ms, p50)")
    print(f"    p95: submit->queued {high['submit']}, queued->running {high['queue']}, running->model start "
          f"{high['start']}, model start->succeeded less the job's own time {high['around']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=30, help="timed jobs per studio, after one cold job")
    parser.add_argument("--studio-log", type=Path, help="write runstudio's output to this file (the "
                        "other studios' to PATH.1, PATH.2, ...)")
    parser.add_argument("--compare", type=Path, nargs="+", metavar="CHECKOUT", default=[],
                        help="also run the jobs on the studio of these checkouts (e.g. a git worktree of "
                             "an older commit), interleaved with this one's")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; {load_average()}")
    user, password = "bench", uuid.uuid4().hex
    roots = [ROOT, *args.compare]
    with ExitStack() as stack:
        studios = []
        for i, root in enumerate(roots):
            log = args.studio_log.with_name(f"{args.studio_log.name}.{i}") if args.studio_log and i \
                else args.studio_log
            host, _ = stack.enter_context(running_studio(user, password, root, log))
            browser, token, _ = sign_in(host, user, password)
            studios.append((browser, token))
        for browser, token in studios:
            one_job(browser, token)  # cold: loads the generator into the worker's cache
        runs: list[list[dict[str, float]]] = [[] for _ in roots]
        for r in range(args.jobs):  # the studios' order rotates, so each sees the same load
            for i in [*range(r % len(roots), len(roots)), *range(r % len(roots))]:
                runs[i].append(one_job(*studios[i]))
        for root, timed in zip(roots, runs, strict=True):
            report(str(root), timed)


if __name__ == "__main__":
    main()
