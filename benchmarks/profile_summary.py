"""Where the time goes, from py-spy's raw (collapsed stacks) output.

    python profile_summary.py STACKS.txt [--top 30] [--match doorkeeper]

Prints, per function (`name (file)`), its inclusive share (the samples whose stack
contains it) and its self share (the samples where it is the innermost frame), over
every sample of the file (idle threads included when py-spy ran with --idle).
"""

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/benchmarks/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['name']} ({path})"


def summarize(lines: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";") if frame]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    return total, inclusive, own


BUCKETS = (  # the first that matches any frame of a sample takes it ("own code": the leaf)
    ("database: SQLAlchemy session + asyncpg", ("sqlalchemy/", "asyncpg/")),
    ("Redis client", ("redis/",)),
    ("password hashing", ("argon2", "pwdlib/")),
    ("JWT (PyJWT)", ("jwt/api_", "jwt/algorithms", "doorkeeper/jwt.py", "fastapi_users/jwt.py")),
    ("response model validation (pydantic, email_validator)", ("pydantic/", "email_validator/")),
    # Only the hop itself: FastAPI's generator dependencies use anyio too (cancel scopes,
    # checkpoints), which belongs to the framework bucket.
    (
        "thread pool hop (sync dependency)",
        ("starlette/concurrency", "anyio/to_thread", "run_sync_in_worker_thread", "threading.py"),
    ),
    ("auth library, own code", ("doorkeeper/", "fastapi_users/", "fastapi_users_db")),
    ("FastAPI / Starlette / uvicorn / event loop", ("",)),
)


def buckets(lines: list[str]) -> tuple[int, Counter[str]]:
    """Samples per bucket: what part of the stack is each sample spent for."""
    total, counts = 0, Counter()
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        total += int(count_text)
        leaf = stack.rsplit(";", 1)[-1]
        for name, patterns in BUCKETS:
            where = leaf if name.startswith("auth library") else stack
            if any(pattern in where for pattern in patterns):
                counts[name] += int(count_text)
                break
    return total, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only functions whose text contains this")
    args = parser.parse_args()
    lines = args.stacks.read_text().splitlines()
    total, inclusive, own = summarize(lines)
    print(f"{total} samples")
    _, per_bucket = buckets(lines)
    print("\nbuckets:")
    for name, _patterns in BUCKETS:
        print(f"  {per_bucket[name] / total:6.1%}  {name}")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n{title}:")
        shown = 0
        for frame, count in counter.most_common():
            if args.match and args.match not in frame:
                continue
            print(f"  {count / total:6.1%}  {frame}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
