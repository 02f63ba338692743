"""Load on `rag serve`: throughput and latency with 1, 8 and 32 concurrent clients, and a one-shot question.

Starts `rag serve` as a subprocess on a free loopback port (eval does not import ui: it only speaks
HTTP), waits for /healthz, asks every question once to warm the server, then for each concurrency
level sends a bounded number of POST /v1/ask requests (default 64) from that many client threads,
each question of the default eval set in turn (follow-ups left out). Reported per level: requests per
second over the level's wall time, and client-side p50/p95/mean latency; plus the server's own
answer time (`timings_ms.total`) so queueing shows as the difference.

With --one-shot N it also times N runs of `rag ask --server URL "..."` (a new process that loads no
model) against N runs of a local `rag ask "..."` (which loads the model and the index each time).

    python -m eval.benchmarks.serve_load [--index-dir DIR] [--levels 1,8,32] [--per-level 64] [--one-shot 3]

Writes eval/reports/serve_load.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from eval.benchmarks.common import default_out, latency_summary, table, write_json
from index.paths import PROJECT_ROOT

__all__ = ["main", "run_level"]

QUESTION = "Who was sent to Geneva to negotiate?"
DEFAULT_SET = PROJECT_ROOT / "eval" / "sets" / "default.jsonl"


def load_questions(path: Path) -> list[str]:
    """The questions of an eval set, follow-ups left out (they need a conversation)."""
    with open(path, encoding="utf-8") as rows:
        items = [json.loads(line) for line in rows if line.strip()]
    return [item["question"] for item in items if item.get("category") != "followup"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "ui.cli", *args]  # the `rag` command, as a process


def _start_server(index_dir: Path | None, port: int) -> subprocess.Popen:
    command = _rag("serve", "--port", str(port), *(["--index-dir", str(index_dir)] if index_dir else []))
    env = {key: value for key, value in os.environ.items() if key != "RAG_API_KEY"}
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True)


def _wait_ready(url: str, server: subprocess.Popen, timeout: float = 600) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"rag serve exited ({server.returncode}): {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"rag serve did not answer /healthz within {timeout:.0f} s")


def run_level(url: str, questions: list[str], clients: int, requests: int) -> dict[str, object]:
    """`requests` asks from `clients` threads at once; latencies in ms."""
    work = [questions[i % len(questions)] for i in range(requests)]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    with httpx.Client(base_url=url, timeout=300, limits=limits) as client:

        def one(question: str) -> tuple[float, float, int]:
            started = time.perf_counter()
            response = client.post("/v1/ask", json={"question": question})
            elapsed = (time.perf_counter() - started) * 1000
            server_ms = response.json().get("timings_ms", {}).get("total", 0.0) if response.status_code == 200 else 0
            return elapsed, server_ms, response.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, work))
        wall = time.perf_counter() - started
    failures = sum(1 for _, _, status in results if status != 200)
    return {
        "clients": clients,
        "requests": requests,
        "failures": failures,
        "seconds": round(wall, 3),
        "requests_per_second": round(requests / wall, 2),
        "latency_ms": latency_summary([ms for ms, _, _ in results]),
        "server_total_ms": latency_summary([ms for _, ms, _ in results]),
    }


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, check=True, timeout=600)
    return time.perf_counter() - started


def one_shot(url: str, index_dir: Path | None, runs: int) -> dict[str, object]:
    """Wall seconds of a new `rag ask` process: through the server vs loading the model itself."""
    where = ["--index-dir", str(index_dir)] if index_dir else []
    served = [_timed(_rag("ask", "--server", url, QUESTION)) for _ in range(runs)]
    local = [_timed(_rag("ask", *where, QUESTION)) for _ in range(runs)]
    return {
        "question": QUESTION,
        "runs": runs,
        "server_seconds": [round(s, 3) for s in served],
        "local_seconds": [round(s, 3) for s in local],
        "server_median": round(sorted(served)[len(served) // 2], 3),
        "local_median": round(sorted(local)[len(local) // 2], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.benchmarks.serve_load", description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", type=Path, default=None, help="index to serve (default: rag's default)")
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="questions (an eval set; follow-ups skipped)")
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients per level (default 1,8,32)")
    parser.add_argument("--per-level", type=int, default=64, help="requests per level (default 64)")
    parser.add_argument("--one-shot", type=int, default=3, help="runs of the one-shot comparison (0: skip)")
    parser.add_argument("--out", type=Path, default=default_out("serve_load"))
    args = parser.parse_args(argv)

    questions = load_questions(args.set)
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_server(args.index_dir, port)
    try:
        startup = _wait_ready(url, server)
        with httpx.Client(base_url=url, timeout=300) as client:  # warm: every question once
            for question in questions:
                client.post("/v1/ask", json={"question": question})
        results = [run_level(url, questions, clients, args.per_level) for clients in levels]
        shot = one_shot(url, args.index_dir, args.one_shot) if args.one_shot > 0 else None
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    report = {
        "benchmark": "serve_load",
        "cpus": os.cpu_count(),
        "startup_seconds": round(startup, 2),
        "questions": len(questions),
        "levels": results,
        "one_shot": shot,
    }
    write_json(args.out, report)
    rows = [
        [
            r["clients"],
            r["requests"],
            r["failures"],
            r["requests_per_second"],
            r["latency_ms"]["p50"],
            r["latency_ms"]["p95"],
            r["server_total_ms"]["p50"],
        ]
        for r in results
    ]
    headers = ["clients", "requests", "failed", "req/s", "p50 ms", "p95 ms", "server p50 ms"]
    print(table(headers, rows))
    if shot:
        print(
            f"\none-shot `rag ask` (median of {shot['runs']}): --server {shot['server_median']} s, "
            f"local {shot['local_median']} s"
        )
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
