"""Profile one library's server under one workload with py-spy, and say where the time goes.

    .venv/bin/python benchmarks/profiling.py --lib doorkeeper --workload w1-jwt [--seconds 15]

Workloads: w1-jwt, w1-db, w1-redis (GET /users/me at concurrency 32), w1-floor (GET
/floor/users/me, the dependency graph floor), w2 (logins at concurrency 8, production
hasher), w3 (w2 plus the /users/me probe), w4 (logins of random users among --users,
cheap hasher). `--auth-cache`: Doorkeeper's server given its AuthCache, as in run.py.
py-spy comes from benchmarks/.venv-fastapi-users (`make bench` installs it). The raw
stacks are kept (--out) for flame graphs.
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import harness
import profile_summary
import workloads
from harness import Load, Running, Server
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", default="doorkeeper", choices=("doorkeeper", "fastapi_users"))
    parser.add_argument("--workload", default="w1-jwt")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--no-spy", action="store_true", help="measure only, no profiler")
    parser.add_argument("--idle", action="store_true", help="sample idle threads too")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every running thread (default: only the one holding the GIL, i.e. "
        "Python's CPU time; idle worker threads waiting on a queue would count otherwise)",
    )
    parser.add_argument("--out", type=Path, help="keep the raw stacks here")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--experiment", default="", help="see experiments.py (Doorkeeper)")
    parser.add_argument(
        "--auth-cache", action="store_true", help="Doorkeeper with its AuthCache (as run.py)"
    )
    args = parser.parse_args()
    if not harness.PY_SPY.exists():
        raise SystemExit(f"{harness.PY_SPY} is missing: run `make bench` once")
    generator = "wrk" if harness.wrk_available() else "python"
    run_id = f"{os.getpid()}_{int(time.time())}"
    name, prefix = f"dk_bench_{run_id}_profile", f"dk-bench:{run_id}:"
    hasher = "cheap" if args.workload == "w4" else "prod"
    if args.auth_cache and args.lib != "doorkeeper":
        raise SystemExit("--auth-cache is Doorkeeper's")
    tag = f"{args.lib}{'-cache' if args.auth_cache else ''}-{args.workload}"
    tag += f"-{args.experiment}" if args.experiment else ""
    out = args.out or Path(tempfile.gettempdir()) / f"profile-{tag}.txt"
    try:
        url = harness.create_database(name)
        with Server(
            args.lib, url, prefix, hasher, args.experiment, auth_cache=args.auth_cache
        ) as server:
            tokens = workloads.prepare(server)
            settings = workloads.Settings(generator, w2_duration=args.seconds + 4)
            loads = []
            if args.workload.startswith("w1-"):
                strategy = args.workload[3:]
                headers = workloads.bearer(tokens.get(strategy, tokens["jwt"]))
                path = "/floor/users/me" if strategy == "floor" else f"/{strategy}/users/me"
                loads.append(Load(server.port, path, headers=headers, connections=32))
            elif args.workload in ("w2", "w3"):
                loads.append(workloads.login_load(server, settings))
                if args.workload == "w3":
                    loads.append(workloads.probe(server, settings, tokens["jwt"]))
            elif args.workload == "w4":
                cheap = Argon2Hasher(**workloads.HASHERS["cheap"])
                hashed = PasswordHash((cheap,)).hash(workloads.PASSWORD)
                workloads.grow_users(args.lib, name, 0, args.users, hashed)
                loads.append(
                    Load(
                        server.port,
                        "/auth/jwt/login",
                        method="POST",
                        headers=workloads.FORM,
                        body_template=workloads.W4_BODY,
                        body_range=args.users,
                        connections=1,
                    )
                )
            else:
                raise SystemExit(f"unknown workload {args.workload!r}")
            cpu_before = cpu_seconds(server.pid)
            running = []
            for load in loads:
                load.duration = args.seconds + 4
                running.append(Running(load, "python" if load.rate else generator))
            time.sleep(2)  # the load is under way
            command = [str(harness.PY_SPY), "record", "--pid", str(server.pid)]
            command += ["--duration", str(int(args.seconds)), "--rate", str(args.rate)]
            command += ["--format", "raw", "-o", str(out), "--nonblocking"]
            if args.idle:
                command.append("--idle")
            if not args.all_threads:
                command.append("--gil")
            if args.no_spy:
                time.sleep(args.seconds)
            else:
                subprocess.run(command, check=True, capture_output=True)
            results = [r.result() for r in running]
            cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        harness.drop_database(name)
        harness.redis_cleanup(prefix)
    for load, result in zip(loads, results, strict=True):
        print(
            f"{load.method} {load.path}: {result['rps']:.1f} req/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, non-2xx {result['non2xx']}, errors "
            f"{result['errors']} {result.get('statuses', '')}"
        )
    served = sum(result["requests"] for result in results)
    print(f"server CPU: {cpu:.1f} s for {served} requests = {cpu / served * 1000:.2f} ms each")
    if args.no_spy:
        return
    total, inclusive, own = profile_summary.summarize(out.read_text().splitlines())
    print(f"\n{tag}: {total} samples ({out})")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}:")
        for frame, count in counter.most_common(args.top):
            print(f"  {count / total:6.1%}  {frame}")


if __name__ == "__main__":
    main()
