"""W1 to W6: each measures one library's server and records figures in `Results`."""

import asyncio
import os
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from harness import Load, Running, Server, loadavg, pg, run_load
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

EMAIL = "bench@bench.example"
PASSWORD = "correct-horse-battery-staple-42"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LOGIN_BODY = f"username=bench%40bench.example&password={PASSWORD}"
W4_EMAIL = "w4-{n}@bench.example"
W4_BODY = f"username=w4-{{n}}%40bench.example&password={PASSWORD}"
STRATEGIES = ("jwt", "db", "redis")
HASHERS = {  # the same as bench_app.HASHERS (that module needs a library to import)
    "prod": {"time_cost": 3, "memory_cost": 65536, "parallelism": 4},
    "cheap": {"time_cost": 1, "memory_cost": 64, "parallelism": 1},
}


@dataclass
class Settings:
    generator: str
    duration: float = 10.0  # one run
    runs: int = 3
    warmup: float = 2.0  # seconds of the same load before the runs
    w2_duration: float = 10.0
    w3_rate: float = 50.0
    w4_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    w4_duration: float = 5.0
    w5_attempts: int = 20
    w6_logins: int = 20_000  # per figure; 100k adds 15-30 minutes here (--w6-logins)
    w6_checkpoints: int = 5  # RSS read after each 1/n of the logins
    hash_samples: int = 10
    hasher: str = "prod"  # of W1-W3 and W5 (W4 and W6 always use the cheap one)
    fresh_servers: bool = True  # W4, W6 on servers of their own (quick mode: on the first)


@dataclass
class Figure:
    """One measurement: the runs after a warm-up, with the load average around them."""

    metric: str
    runs: list[dict[str, Any]]
    load_start: float
    load_end: float

    @property
    def values(self) -> list[float]:
        return [float(run[self.metric]) for run in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        values = self.values
        return (max(values) - min(values)) / self.median if self.median else 0.0

    @property
    def failures(self) -> int:
        return sum(int(run.get("non2xx", 0)) + int(run.get("errors", 0)) for run in self.runs)


@dataclass
class Results:
    figures: dict[tuple[str, str], Figure] = field(default_factory=dict)  # (key, lib)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, lib: str, figure: Figure) -> None:
        self.figures[(key, lib)] = figure
        print(
            f"  {key:<14} {lib:<14} {figure.metric}={figure.median:10.2f} "
            f"(runs {', '.join(f'{v:.2f}' for v in figure.values)}; "
            f"load {figure.load_start:.2f}->{figure.load_end:.2f})",
            flush=True,
        )

    def get(self, key: str, lib: str) -> Figure | None:
        return self.figures.get((key, lib))


def measure(settings: Settings, load: Load, metric: str, warmup: bool = True) -> Figure:
    if warmup and settings.warmup > 0:
        warm = Load(**{**load.__dict__, "duration": settings.warmup})
        run_load(warm, settings.generator if load.rate is None else "python")
    start = loadavg()
    runs = [run_load(load, settings.generator) for _ in range(settings.runs)]
    return Figure(metric, runs, start, loadavg())


def hash_cpu_seconds(samples: int, hasher_name: str) -> float:
    """CPU time (every thread of this process) of one verification with that hasher: the
    least of `samples` timings, as other processes' load only ever adds to it."""
    hasher = PasswordHash((Argon2Hasher(**HASHERS[hasher_name]),))
    hashed = hasher.hash(PASSWORD)
    hasher.verify(PASSWORD, hashed)
    timings = []
    for _ in range(samples):
        started = time.process_time()
        hasher.verify(PASSWORD, hashed)
        timings.append(time.process_time() - started)
    return min(timings)


# --- set-up of one library's server --------------------------------------------------------


def login(base_url: str, strategy: str, username: str = EMAIL) -> str:
    response = httpx.post(
        f"{base_url}/auth/{strategy}/login",
        data={"username": username, "password": PASSWORD},
        timeout=60,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def prepare(server: Server) -> dict[str, str]:
    """Register the benchmark user (once per database) and log in with every backend."""
    response = httpx.post(
        f"{server.base_url}/auth/register", json={"email": EMAIL, "password": PASSWORD}, timeout=60
    )
    if response.status_code not in (201, 400):
        raise RuntimeError(f"register: {response.status_code} {response.text}")
    return {strategy: login(server.base_url, strategy) for strategy in STRATEGIES}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- W1, W2, W3, W5: production hasher -----------------------------------------------------


def w1(settings: Settings, results: Results, server: Server, tokens: dict[str, str]) -> None:
    for strategy in STRATEGIES:
        load = Load(
            server.port,
            f"/{strategy}/users/me",
            headers=bearer(tokens[strategy]),
            connections=32,
            duration=settings.duration,
        )
        results.add(f"W1 {strategy}", server.key, measure(settings, load, "rps"))


def w1_bare(settings: Settings, results: Results, server: Server) -> None:
    load = Load(server.port, "/bare", connections=32, duration=settings.duration)
    results.add("W1 bare", "bare", measure(settings, load, "rps"))


def w1_floor(settings: Settings, results: Results, server: Server, token: str) -> None:
    """GET /floor/users/me: /users/me's dependency graph (JWT backend), a constant answer.
    A bearer header as /users/me gets: the transport's scheme parses it."""
    load = Load(
        server.port,
        "/floor/users/me",
        headers=bearer(token),
        connections=32,
        duration=settings.duration,
    )
    results.add("W1 floor", server.key, measure(settings, load, "rps"))


def login_load(server: Server, settings: Settings, body: str = LOGIN_BODY) -> Load:
    return Load(
        server.port,
        "/auth/jwt/login",
        method="POST",
        headers=FORM,
        body=body,
        connections=8,
        duration=settings.w2_duration,
    )


def hashing_alone(settings: Settings, seconds: float) -> dict[str, Any]:
    """Verifications per second of `cores` threads doing nothing else, now: what the
    machine, with whatever else runs on it, leaves for hashing (W2's context)."""
    hasher = PasswordHash((Argon2Hasher(**HASHERS[settings.hasher]),))
    hashed = hasher.hash(PASSWORD)
    counts = [0] * (os.cpu_count() or 1)
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < stop:
            hasher.verify(PASSWORD, hashed)
            counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(counts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": sum(counts) / (time.perf_counter() - started), "generator": "threads"}


def w2(settings: Settings, results: Results, server: Server) -> None:
    settle(server)
    start = loadavg()
    alone = hashing_alone(settings, min(5.0, settings.w2_duration))
    figure = measure(settings, login_load(server, settings), "rps")
    results.add("W2 hashing alone", server.key, Figure("rps", [alone], start, loadavg()))
    results.add("W2", server.key, figure)


def probe(server: Server, settings: Settings, token: str) -> Load:
    return Load(
        server.port,
        "/jwt/users/me",
        headers=bearer(token),
        connections=4,
        duration=settings.w2_duration,
        rate=settings.w3_rate,
    )


def settle(server: Server, limit: float = 60.0) -> None:
    """Wait until the server answers /bare in under 20 ms twice in a row: the requests
    still queued from the previous load (a hashing FastAPI Users) are done."""
    deadline, quick = time.monotonic() + limit, 0
    with httpx.Client(base_url=server.base_url, timeout=limit) as client:
        while quick < 2 and time.monotonic() < deadline:
            started = time.perf_counter()
            client.get("/bare")
            quick = quick + 1 if time.perf_counter() - started < 0.02 else 0
            time.sleep(0.05)


def w3_idle(settings: Settings, results: Results, server: Server, tokens: dict[str, str]) -> None:
    settle(server)
    idle = measure(settings, probe(server, settings, tokens["jwt"]), "p99_ms", warmup=False)
    results.add("W3 idle", server.key, idle)


def w3(settings: Settings, results: Results, server: Server, tokens: dict[str, str]) -> None:
    settle(server)
    start, runs = loadavg(), []
    for _ in range(settings.runs):
        logins = Running(login_load(server, settings), settings.generator)
        time.sleep(0.5)  # the login storm is under way before the probe starts
        runs.append(run_load(probe(server, settings, tokens["jwt"]), "python"))
        logins.result()
        settle(server)
    results.add("W3 loaded", server.key, Figure("p99_ms", runs, start, loadavg()))


async def _register_race(base_url: str, emails: list[str]) -> Counter[int]:
    limits = httpx.Limits(max_connections=len(emails))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        posts = [
            client.post("/auth/register", json={"email": e, "password": PASSWORD}) for e in emails
        ]
        responses = await asyncio.gather(*posts)
    return Counter(response.status_code for response in responses)


def _case_variant(email: str, index: int) -> str:
    """The index-th spelling of `email` in mixed letter case."""
    return "".join(c.upper() if (index >> (i % 16)) & 1 else c.lower() for i, c in enumerate(email))


def w5(settings: Settings, results: Results, server: Server) -> None:
    settle(server)
    n, tag = settings.w5_attempts, f"{os.getpid()}-{time.time_ns()}"
    same = [f"race-{tag}@bench.example"] * n
    variants = [_case_variant(f"racecase-{tag}@bench.example", i) for i in range(n)]
    for key, emails in (("W5 same", same), ("W5 case", variants)):
        start = loadavg()
        counts = asyncio.run(_register_race(server.base_url, emails))
        run = {"201": counts[201], "400": counts[400], "500": counts[500], "all": dict(counts)}
        results.add(key, server.key, Figure("201", [run], start, loadavg()))


# --- W4: many users, cheap hasher ----------------------------------------------------------

LOOKUP_SQL = {
    # The WHERE clause each library's get_by_email issues (see the module docstring of
    # run.py): Doorkeeper an equality on the normalized column, FastAPI Users lower().
    "doorkeeper": "SELECT * FROM \"user\" WHERE email_normalized = '{email}'",
    "fastapi_users": "SELECT * FROM \"user\" WHERE lower(email) = lower('{email}')",
}


def grow_users(lib: str, database: str, start: int, stop: int, hashed: str) -> None:
    """Insert users w4-start .. w4-(stop-1) in one set-based statement, then ANALYZE."""
    email = "'w4-' || g || '@bench.example'"
    columns = "id, email, hashed_password, is_active, is_superuser, is_verified"
    values = f"gen_random_uuid(), {email}, '{hashed}', true, false, false"
    if lib == "doorkeeper":
        columns += ", email_normalized"
        values += f", {email}"
    pg(
        [
            f'INSERT INTO "user" ({columns}) SELECT {values} '  # noqa: S608 - constants
            f"FROM generate_series({start}, {stop - 1}) AS g",
            'ANALYZE "user"',
        ],
        database,
    )


def explain(lib: str, database: str, size: int) -> list[str]:
    sql = LOOKUP_SQL[lib].format(email=W4_EMAIL.format(n=size // 2))
    rows = pg([f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"], database)[0]
    return [row[0] for row in rows]


def w4(settings: Settings, results: Results, server: Server, database: str) -> None:
    hashed = PasswordHash((Argon2Hasher(**HASHERS["cheap"]),)).hash(PASSWORD)
    have = 0
    for size in settings.w4_sizes:
        grow_users(server.lib, database, have, size, hashed)
        have = size
        plan = explain(server.lib, database, size)
        login(server.base_url, "jwt", W4_EMAIL.format(n=0))  # the path works at this size
        load = Load(
            server.port,
            "/auth/jwt/login",
            method="POST",
            headers=FORM,
            body_template=W4_BODY,
            body_range=size,
            connections=1,
            duration=settings.w4_duration,
        )
        figure = measure(settings, load, "p50_ms")
        results.add(f"W4 {size}", server.key, figure)
        results.facts[f"plan {server.key} {size}"] = plan


# --- W6: memory after many logins, cheap hasher ---------------------------------------------


def w6(settings: Settings, results: Results, server: Server, strategy: str) -> None:
    """RSS after a warm-up (none if `settings.warmup` is 0: quick mode), then at
    `w6_checkpoints` checkpoints up to `w6_logins` logins."""
    load = Load(
        server.port,
        f"/auth/{strategy}/login",
        method="POST",
        headers=FORM,
        body=LOGIN_BODY,
        connections=32,
        duration=3600,
        total=min(1000, settings.w6_logins),
    )
    if settings.warmup > 0:
        run_load(load, settings.generator)  # warm-up (and the first login's rehash)
    before, start = server.rss_kib(), loadavg()
    done, seconds, failures, checkpoints = 0, 0.0, 0, []
    steps = settings.w6_checkpoints
    for step in range(1, steps + 1):
        load.total = settings.w6_logins * step // steps - done
        part = run_load(load, settings.generator)
        done += part["requests"]
        seconds += part["duration_s"]
        failures += part["non2xx"] + part["errors"]
        checkpoints.append((done, server.rss_kib()))
    run = {
        "requests": done,
        "rps": done / seconds if seconds else 0.0,
        "non2xx": failures,
        "rss_before_kib": before,
        "rss_after_kib": checkpoints[-1][1],
        "checkpoints": checkpoints,
        "hwm_kib": server.rss_kib("VmHWM"),
        "generator": settings.generator,
    }
    results.add(f"W6 {strategy}", server.key, Figure("rss_after_kib", [run], start, loadavg()))
