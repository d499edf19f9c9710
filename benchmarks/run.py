"""Doorkeeper and FastAPI Users side by side, in one run: `make bench` (or
`.venv/bin/python benchmarks/run.py [--quick]`).

Both libraries serve the same app (bench_app.py) with uvicorn, one worker, uvloop and
httptools, on PostgreSQL (asyncpg) and Redis; Doorkeeper from the project's .venv,
FastAPI Users from benchmarks/.venv-fastapi-users (made by `make bench` from the pinned
requirements-fastapi-users.txt). The load comes from `wrk` when it is installed, else
from loadgen.py; both run in processes of their own, never in the server's event loop.

Workloads (see issue 4): W1 GET /users/me per strategy, and the bare endpoint (the
ceiling) and the graph floor (GET /floor/users/me: /users/me's dependencies, a constant
answer) on Doorkeeper's server; W1 again on a second Doorkeeper server given its opt-in
AuthCache ("Doorkeeper + AuthCache", W1 only; `--no-auth-cache` skips it); W2 logins
at concurrency 8 with the production hasher; W3 the p99 of /users/me while W2 runs,
over its idle p99; W4 login latency with 10k, 100k and 1M users
(set-based inserts, ANALYZE, EXPLAIN of the e-mail lookup: Doorkeeper's
`email_normalized = :email`, FastAPI Users' `lower(email) = lower(:email)`, the WHERE
clauses of their `get_by_email`); W5 concurrent registrations of one e-mail; W6 server
RSS after many logins with the database and the Redis strategies.

Each figure: a warm-up, then the median of `--runs` runs (3); the tables give every run's
spread and the load average around it. No figure is asserted anywhere: the quick mode
(`--quick`) only keeps the script working (tests/test_benchmarks.py).
"""

import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import harness
import report
import workloads
from harness import CACHED, LABELS, Server
from workloads import HASHERS, Results, Settings

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny durations and sizes")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="e.g. W1,W4")
    parser.add_argument("--libs", default="doorkeeper,fastapi_users")
    parser.add_argument(
        "--no-auth-cache",
        action="store_true",
        help="skip W1 of Doorkeeper + AuthCache (a second Doorkeeper server)",
    )
    parser.add_argument("--duration", type=float, help="seconds of one run (W1)")
    parser.add_argument("--runs", type=int, help="runs per figure (median)")
    parser.add_argument("--w4-sizes", help="comma-separated user counts")
    parser.add_argument("--w6-logins", type=int, help="logins per W6 figure")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="also write every run's raw figures here")
    return parser.parse_args(argv)


def make_settings(args: argparse.Namespace, generator: str) -> Settings:
    if args.quick:
        settings = Settings(
            generator,
            duration=1.0,
            runs=1,
            warmup=0.0,
            w2_duration=1.0,
            w3_rate=20.0,
            w4_sizes=(200, 1000),
            w4_duration=1.0,
            w6_logins=200,
            w6_checkpoints=2,
            fresh_servers=False,
            hash_samples=20,
            hasher="cheap",
        )
    else:
        settings = Settings(generator)
    if args.duration:
        settings.duration = args.duration
    if args.runs:
        settings.runs = args.runs
    if args.w4_sizes:
        settings.w4_sizes = tuple(int(size) for size in args.w4_sizes.split(","))
    if args.w6_logins:
        settings.w6_logins = args.w6_logins
    return settings


def choose_libs(args: argparse.Namespace) -> list[str]:
    libs = [lib for lib in args.libs.split(",") if lib]
    if "fastapi_users" in libs and not harness.FAU_PYTHON.exists():
        if not args.quick:
            sys.exit(
                f"{harness.FAU_VENV} is missing: `make bench` creates it from "
                "benchmarks/requirements-fastapi-users.txt (or pass --libs doorkeeper)."
            )
        print("FastAPI Users' environment is absent: quick mode measures Doorkeeper only.")
        libs.remove("fastapi_users")
    return libs


def header(settings: Settings, libs: list[str], facts: dict[str, Any]) -> str:
    machine = facts["machine"]
    lines = [
        "# Doorkeeper vs FastAPI Users: benchmark",
        "",
        f"- date: {facts['date']}; mode: {'quick' if facts['quick'] else 'full'}",
        f"- machine: {machine['cores']} cores ({machine['cpu']}), {machine['mem_gib']:.0f} GiB; "
        f"load average at start {facts['load_start']:.2f}, at end {facts.get('load_end', 0):.2f}",
        f"- commit: {facts['commit']}",
        f"- services: PostgreSQL {facts['services']['PostgreSQL']}, "
        f"Redis {facts['services']['Redis']}",
        f"- load generator: {facts['generator']}; W3 probe: loadgen.py, open loop at "
        f"{settings.w3_rate:.0f} req/s over 4 connections",
        f"- runs: warm-up {settings.warmup:g} s, then median of {settings.runs} runs of "
        f"{settings.duration:g} s (W1), {settings.w2_duration:g} s (W2, W3), "
        f"{settings.w4_duration:g} s (W4)",
        f"- hashers (both libraries, the same explicit parameters): {settings.hasher} "
        f"Argon2id {HASHERS[settings.hasher]} for W1-W3 and W5; cheap Argon2id "
        f"{HASHERS['cheap']} for W4 and W6 (to keep them short and make the lookup, not the "
        "hash, the measured cost)",
        f"- W2 ceiling: {machine['cores']} cores ÷ {facts['hash_cpu_ms']:.2f} ms CPU per "
        f"verification = {facts['ceiling']:.1f} logins/s",
    ]
    for lib in libs:
        versions = ", ".join(f"{k} {v}" for k, v in facts["versions"][lib].items())
        lines.append(f"- {LABELS[lib]} side: {versions}")
    if facts.get("auth_cache"):
        lines.append(
            f"- {LABELS[CACHED]} (W1 only): a second Doorkeeper server, started right after "
            "Doorkeeper's W1, whose every FastAPIUsers is given one `AuthCache(ttl_seconds=5.0, "
            "redis=<the app's client>)` (a per-process cache of token → user, invalidated "
            "over Redis pub/sub)"
        )
    if facts.get("floor"):
        lines.append(
            "- W1 graph floor: GET /floor/users/me on Doorkeeper's server, depending on what "
            "/users/me depends on (user manager → user database → session, the bearer "
            "scheme, the JWT strategy) and answering a constant user through the same "
            "response model, checking nothing: the ceiling of FastAPI Users' dependency shape"
        )
    return "\n".join(lines)


def w1_auth_cache(settings: Settings, results: Results, url: str, prefix: str) -> None:
    """W1 on a second Doorkeeper server, given the AuthCache: started right after
    Doorkeeper's W1 (same minute, same machine load) while the first server idles."""
    print(f"{LABELS[CACHED]}: a second server, W1 only", flush=True)
    with Server(
        "doorkeeper", url, f"{prefix}{CACHED}:", settings.hasher, auth_cache=True
    ) as server:
        workloads.w1(settings, results, server, workloads.prepare(server))


def run(args: argparse.Namespace) -> str:
    generator = "wrk" if harness.wrk_available() and args.loadgen != "python" else "python"
    if args.loadgen == "wrk" and generator != "wrk":
        sys.exit("wrk is not installed (apt-get install wrk), or use --loadgen python")
    settings = make_settings(args, generator)
    libs = choose_libs(args)
    only = {name.strip().upper() for name in args.only.split(",")}
    run_id = f"{os.getpid()}_{int(time.time())}"
    prefix = f"dk-bench:{run_id}:"
    databases = {lib: f"dk_bench_{run_id}_{lib}" for lib in libs}
    facts: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "load_start": harness.loadavg(),
        "machine": {
            "cores": os.cpu_count() or 1,
            "cpu": harness.cpu_model(),
            "mem_gib": harness.mem_total_gib(),
        },
        "commit": harness.git_commit(),
        "services": harness.service_versions(),
        "generator": harness.wrk_version() if generator == "wrk" else "loadgen.py (Python)",
        "versions": {lib: harness.versions(harness.LIBS[lib]) for lib in libs},
    }
    hash_cpu = [workloads.hash_cpu_seconds(settings.hash_samples, settings.hasher)]
    results = Results()
    print(f"benchmark {run_id}: {', '.join(libs)}; generator {facts['generator']}", flush=True)
    urls = {}
    # Quick mode: W4 and W6 on each library's first server (its hasher is the cheap one
    # already) instead of servers of their own: fewer server starts, the same code paths.
    shared = not settings.fresh_servers and settings.hasher == "cheap"
    first = {"W1", "W2", "W3", "W5"} | ({"W4", "W6"} if shared else set())
    try:
        for lib, name in databases.items():
            urls[lib] = harness.create_database(name)
        for lib in libs if only & first else []:
            print(f"{LABELS[lib]}, {settings.hasher} hasher", flush=True)
            with Server(lib, urls[lib], prefix + lib + ":", settings.hasher) as server:
                tokens = workloads.prepare(server)
                if "W1" in only:
                    if lib == "doorkeeper":
                        workloads.w1_bare(settings, results, server)
                        workloads.w1_floor(settings, results, server, tokens["jwt"])
                        facts["floor"] = True
                    workloads.w1(settings, results, server, tokens)
                    if lib == "doorkeeper" and not args.no_auth_cache:
                        w1_auth_cache(settings, results, urls[lib], prefix)
                        facts["auth_cache"] = True
                if "W3" in only:
                    workloads.w3_idle(settings, results, server, tokens)
                if "W2" in only:
                    workloads.w2(settings, results, server)
                if "W3" in only:
                    workloads.w3(settings, results, server, tokens)
                if "W5" in only:
                    workloads.w5(settings, results, server)
                for strategy in ("db", "redis") if shared and "W6" in only else ():
                    workloads.w6(settings, results, server, strategy)
                if shared and "W4" in only:
                    workloads.w4(settings, results, server, databases[lib])
        # W6 before W4: its logins must not pay for W4's million users (FastAPI Users'
        # lookup scans them all).
        for lib in libs if "W6" in only and not shared else []:
            for strategy in ("db", "redis"):
                print(f"{LABELS[lib]}, W6 {strategy}: a fresh server", flush=True)
                with Server(lib, urls[lib], prefix + lib + ":", "cheap") as server:
                    workloads.prepare(server)
                    workloads.w6(settings, results, server, strategy)
        for lib in libs if "W4" in only and not shared else []:
            print(f"{LABELS[lib]}, W4 with up to {settings.w4_sizes[-1]:,} users", flush=True)
            with Server(lib, urls[lib], prefix + lib + ":", "cheap") as server:
                workloads.prepare(server)
                workloads.w4(settings, results, server, databases[lib])
    finally:
        for name in databases.values():
            harness.drop_database(name)
        harness.redis_cleanup(prefix)
    facts["load_end"] = harness.loadavg()
    hash_cpu.append(workloads.hash_cpu_seconds(settings.hash_samples, settings.hasher))
    facts["hash_cpu_ms"] = min(hash_cpu) * 1000  # at the start and at the end: the least
    facts["ceiling"] = facts["machine"]["cores"] / min(hash_cpu)
    text = header(settings, libs, facts) + "\n\n" + report.render(results, settings, facts)
    if args.json:
        raw = {f"{key} | {lib}": figure.__dict__ for (key, lib), figure in results.figures.items()}
        args.json.write_text(json.dumps({"facts": facts, "figures": raw}, indent=1, default=str))
    return text


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the clean-up (servers, databases, Redis keys)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _stop)
    args = parse_args(argv)
    text = run(args)
    print("\n" + text, flush=True)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
