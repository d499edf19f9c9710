"""What every workload uses: servers, databases, Redis keys, load generators, machine facts."""

import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAU_VENV = HERE / ".venv-fastapi-users"
FAU_PYTHON = FAU_VENV / "bin" / "python"
PY_SPY = FAU_VENV / "bin" / "py-spy"
LOADGEN = HERE / "loadgen.py"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LIBS = {"doorkeeper": Path(sys.executable), "fastapi_users": FAU_PYTHON}
CACHED = "doorkeeper+cache"  # Doorkeeper's server with its opt-in AuthCache (W1 only)
LABELS = {
    "doorkeeper": "Doorkeeper",
    CACHED: "Doorkeeper + AuthCache",
    "fastapi_users": "FastAPI Users",
    "bare": "bare",
}


def loadavg() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- PostgreSQL and Redis ------------------------------------------------------------------


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg(statements: list[str], database: str = "postgres") -> list[Any]:
    import asyncpg

    connection = await asyncpg.connect(_pg_url(database))
    try:
        return [await connection.fetch(statement) for statement in statements]
    finally:
        await connection.close()


def pg(statements: list[str], database: str = "postgres") -> list[Any]:
    return asyncio.run(_pg(statements, database))


def create_database(name: str) -> str:
    pg([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'])
    return _pg_url(name).replace("postgresql://", "postgresql+asyncpg://", 1)


def drop_database(name: str) -> None:
    pg([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


def redis_cleanup(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=10_000))
        for start in range(0, len(keys), 10_000):
            client.delete(*keys[start : start + 10_000])
        return len(keys)
    finally:
        client.close()


# --- servers ---------------------------------------------------------------------------


class Server:
    """One uvicorn process: one worker, uvloop, httptools, no access log.

    `auth_cache` (Doorkeeper only): bench_app with `BENCH_AUTH_CACHE=1`; its figures are
    recorded under `key` "doorkeeper+cache" instead of the library's name.
    """

    def __init__(
        self,
        lib: str,
        database_url: str,
        redis_prefix: str,
        hasher: str,
        experiments: str = "",
        *,
        auth_cache: bool = False,
    ) -> None:
        if auth_cache and lib != "doorkeeper":
            raise ValueError("the AuthCache variant is Doorkeeper's")
        self.lib = lib
        self.key = CACHED if auth_cache else lib
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "BENCH_LIB": lib,
            "BENCH_DATABASE_URL": database_url,
            "BENCH_REDIS_URL": REDIS_URL,
            "BENCH_REDIS_PREFIX": redis_prefix,
            "BENCH_HASHER": hasher,
            "BENCH_EXPERIMENTS": experiments,
            "BENCH_AUTH_CACHE": "1" if auth_cache else "",
        }
        env.pop("PYTHONPATH", None)
        command = [str(LIBS[lib]), "-m", "uvicorn", "bench_app:app", "--app-dir", str(HERE)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        command += ["--log-level", "warning"]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.key} server exited:\n{self.output()}")
            try:
                if httpx.get(self.base_url + "/bare", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.key} server did not start:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self, field_name: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field_name} for {self.pid}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- load generators -----------------------------------------------------------------------


@dataclass
class Load:
    """What to send: `run_load` turns it into a wrk or a loadgen.py process."""

    port: int
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    body_template: str | None = None  # "{n}" replaced by a random int in [0, body_range)
    body_range: int = 1
    connections: int = 1
    duration: float = 1.0
    total: int | None = None  # stop after this many responses (duration is then a cap)
    rate: float | None = None  # open loop (loadgen.py only)

    def spec(self) -> dict[str, Any]:
        spec = {k: v for k, v in self.__dict__.items() if v is not None}
        spec["host"] = "127.0.0.1"
        return spec


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).split("Copyright")[0].strip()


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,'
    .. '"errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _wrk_script(load: Load) -> str:
    lines = [f"wrk.method = {_lua_string(load.method)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in load.headers.items()]
    lines.append(f"wrk.body = {_lua_string(load.body)}")
    if load.body_template is not None:
        template = _lua_string(load.body_template.replace("%", "%%").replace("{n}", "%d"))
        lines.append("init = function(args) math.randomseed(os.time() + os.clock() * 1e6) end")
        lines.append(
            "request = function() return wrk.format(nil, nil, nil, string.format("
            f"{template}, math.random(0, {load.body_range - 1}))) end"
        )
    return "\n".join(lines) + WRK_DONE


class Running:
    """A load generator process under way; `result()` waits for it."""

    def __init__(self, load: Load, generator: str) -> None:
        self.load = load
        self.generator = generator
        self._script: str | None = None
        if generator == "wrk" and load.rate is None:
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(_wrk_script(load))
            self._script = script.name
            duration = max(1, round(load.duration))
            command = ["wrk", "-t1", f"-c{load.connections}", f"-d{duration}s"]
            command += ["--timeout", "30s", "-s", script.name]
            command.append(f"http://127.0.0.1:{load.port}{load.path}")
        else:
            self.generator = "python"
            command = [sys.executable, str(LOADGEN), json.dumps(load.spec())]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> dict[str, Any]:
        timeout = (self.load.duration or 60) + 120
        out, err = self.process.communicate(timeout=timeout)
        if self._script is not None:
            os.unlink(self._script)
        for line in out.splitlines():
            if line.startswith("LOADGEN "):
                return {**json.loads(line[8:]), "generator": "python"}
            if line.startswith("WRKJSON "):
                raw = json.loads(line[8:])
                seconds = raw["duration_us"] / 1e6
                return {
                    "requests": raw["requests"],
                    "duration_s": seconds,
                    "rps": raw["requests"] / seconds if seconds else 0.0,
                    "p50_ms": raw["p50_us"] / 1000,
                    "p90_ms": raw["p90_us"] / 1000,
                    "p99_ms": raw["p99_us"] / 1000,
                    "max_ms": raw["max_us"] / 1000,
                    "non2xx": raw["non2xx"],
                    "errors": raw["errors"],
                    "generator": "wrk",
                }
        raise RuntimeError(f"{self.generator} gave no result:\n{out[-2000:]}\n{err[-2000:]}")


def run_load(load: Load, generator: str) -> dict[str, Any]:
    if load.total is None or generator != "wrk":
        return Running(load, generator).result()
    # wrk only stops on time: runs of a duration fitted to the rate seen so far, until
    # `total` responses (a little more, at most one second's worth).
    done: dict[str, Any] = {"requests": 0, "duration_s": 0.0, "non2xx": 0, "errors": 0}
    worst: dict[str, float] = {}
    chunk = Load(**{**load.__dict__, "total": None, "duration": 1.0})
    while done["requests"] < load.total:
        result = Running(chunk, generator).result()
        for name in ("requests", "duration_s", "non2xx", "errors"):
            done[name] += result[name]
        for name in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            worst[name] = max(worst.get(name, 0.0), result[name])
        rate = done["requests"] / done["duration_s"] if done["duration_s"] else 0.0
        remaining = load.total - done["requests"]
        chunk.duration = min(60.0, max(1.0, remaining / rate)) if rate else 1.0
    rps = done["requests"] / done["duration_s"] if done["duration_s"] else 0.0
    return {**done, **worst, "rps": rps, "generator": "wrk"}  # percentiles: worst chunk


# --- the machine ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


VERSIONS_SNIPPET = """
import importlib.metadata as m, json, sys
names = ["fastapi", "starlette", "pydantic", "SQLAlchemy", "asyncpg", "redis", "uvicorn",
         "uvloop", "httptools", "pwdlib", "argon2-cffi", "PyJWT", "doorkeeper", "fastapi-users",
         "fastapi-users-db-sqlalchemy"]
out = {"python": sys.version.split()[0]}
for name in names:
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def versions(python: Path) -> dict[str, str]:
    result = subprocess.run(
        [str(python), "-c", VERSIONS_SNIPPET], capture_output=True, text=True, check=True
    )
    data: dict[str, str] = json.loads(result.stdout)
    return data


def git_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "src"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = result.stdout.strip() or "unknown"
    return commit + (" (+ uncommitted changes in src/)" if dirty.stdout.strip() else "")


def service_versions() -> dict[str, str]:
    import redis

    pg_version = pg(["SHOW server_version"])[0][0][0]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        redis_version = client.info("server")["redis_version"]
    finally:
        client.close()
    return {"PostgreSQL": str(pg_version), "Redis": str(redis_version)}
