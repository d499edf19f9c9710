"""The tables: every figure with its noise, then the comparison with ratios and targets."""

from typing import Any

from harness import CACHED
from workloads import STRATEGIES, Results, Settings

DK, FAU = "doorkeeper", "fastapi_users"


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(ok: bool | None, text: str) -> str:
    if ok is None:
        return f"n/a ({text})"
    return f"{'PASS' if ok else 'MISS'} ({text})"


def figures_table(results: Results) -> str:
    rows = []
    for (key, lib), figure in results.figures.items():
        generators = sorted({str(run.get("generator", "-")) for run in figure.runs})
        rows.append(
            [
                key,
                lib,
                figure.metric,
                _num(figure.median, 2),
                _num(min(figure.values), 2),
                _num(max(figure.values), 2),
                f"{figure.spread * 100:.0f}%",
                str(len(figure.runs)),
                str(figure.failures) if figure.metric not in ("201",) else "-",
                f"{figure.load_start:.2f} → {figure.load_end:.2f}",
                "/".join(generators),
            ]
        )
    header = ["figure", "library", "metric", "median", "min", "max", "spread"]
    header += ["runs", "non-2xx+errors", "load avg (1 min) start → end", "generator"]
    return _table(header, rows)


class Comparison:
    def __init__(self, results: Results, settings: Settings) -> None:
        self.results = results
        self.settings = settings
        self.rows: list[list[str]] = []

    def median(self, key: str, lib: str) -> float | None:
        figure = self.results.get(key, lib)
        return None if figure is None else figure.median

    def cell(self, key: str, lib: str, fmt: str = "{:,.0f}") -> str:
        figure = self.results.get(key, lib)
        if figure is None:
            return "not run"
        values = figure.values
        return f"{fmt.format(figure.median)} ({fmt.format(min(values))}-{fmt.format(max(values))})"

    def w1(self) -> None:
        """Per strategy: Doorkeeper, then Doorkeeper + AuthCache (when run), each against
        FastAPI Users; then the graph floor and the bare endpoint (context)."""
        bare = self.median("W1 bare", "bare")
        floor = self.median("W1 floor", DK)
        for strategy in STRATEGIES:
            key = f"W1 {strategy}"
            fau = self.median(key, FAU)
            for variant in (DK, CACHED):
                if self.results.get(key, variant) is None:
                    continue
                value = self.median(key, variant)
                vs_fau, vs_bare = _ratio(value, fau), _ratio(value, bare)
                verdicts = [
                    _verdict(None if vs_fau is None else vs_fau >= 5, f"{_x(vs_fau)} FAU"),
                    _verdict(
                        None if vs_bare is None else vs_bare >= 0.5,
                        "n/a" if vs_bare is None else f"{vs_bare:.0%} of bare",
                    ),
                ]
                vs_floor = _ratio(value, floor)
                if vs_floor is not None:
                    verdicts.append(f"{vs_floor:.0%} of floor")
                label = f"W1 {strategy}"
                if variant == CACHED:
                    label += " + AuthCache"
                    gain = _ratio(value, self.median(key, DK))
                    if gain is not None:
                        verdicts.append(f"{_x(gain)} Doorkeeper without it")
                self.rows.append(
                    [
                        f"{label} GET /users/me req/s (c=32)",
                        self.cell(key, variant),
                        self.cell(key, FAU),
                        _x(vs_fau),
                        "≥ 5x FAU; ≥ 50% of bare",
                        "; ".join(verdicts),
                    ]
                )
        if floor is not None:
            share = _ratio(floor, bare)
            cell = self.cell("W1 floor", DK) + ("" if share is None else f" = {share:.0%} of bare")
            what = "context: /users/me's dependency graph, no auth work, no I/O"
            self.rows.append(
                ["W1 graph floor GET /floor/users/me req/s (c=32)", cell, "", "", what, ""]
            )
        if bare is not None:
            cell = self.cell("W1 bare", "bare")
            self.rows.append(["W1 bare GET /bare req/s (c=32)", cell, "", "", "ceiling", ""])

    def w2(self, ceiling: float) -> None:
        if self.results.get("W2", DK) is None:
            return
        dk, fau = self.median("W2", DK), self.median("W2", FAU)

        def share(value: float | None, lib: str = DK) -> str:
            if value is None:
                return ""
            alone = self.median("W2 hashing alone", lib)
            context = "" if not alone else f"; {value / alone:.0%} of hashing alone ({alone:.1f}/s)"
            return f" = {value / ceiling:.0%} of ceiling{context}"

        ok = None if dk is None else dk >= 0.9 * ceiling
        self.rows.append(
            [
                f"W2 logins/s (c=8, {self.settings.hasher} Argon2id)",
                self.cell("W2", DK, "{:.1f}") + share(dk),
                self.cell("W2", FAU, "{:.1f}") + share(fau, FAU),
                _x(_ratio(dk, fau)),
                f"≥ 90% of ceiling {ceiling:.1f}/s",
                _verdict(ok, "Doorkeeper" + share(dk)),
            ]
        )

    def w3(self) -> None:
        if self.results.get("W3 idle", DK) is None:
            return
        cells, ratios = [], {}
        for lib in (DK, FAU):
            idle, loaded = self.median("W3 idle", lib), self.median("W3 loaded", lib)
            ratios[lib] = _ratio(loaded, idle)
            if idle is None or loaded is None:
                cells.append("not run")
            else:
                cells.append(f"p99 {idle:.1f} → {loaded:.1f} ms = {_x(ratios[lib])}")
        ok = None if ratios[DK] is None else ratios[DK] <= 3
        self.rows.append(
            [
                "W3 /users/me p99 during W2 ÷ idle p99",
                *cells,
                _x(_ratio(ratios[FAU], ratios[DK])) + " (FAU ÷ DK)",
                "≤ 3 for Doorkeeper",
                _verdict(ok, _x(ratios[DK])),
            ]
        )

    def w4(self) -> None:
        sizes = self.settings.w4_sizes
        for size in sizes:
            key = f"W4 {size}"
            if self.results.get(key, DK) is None:
                continue
            cells = []
            for lib in (DK, FAU):
                plan = self.results.facts.get(f"plan {lib} {size}")
                scan = "not run" if plan is None else plan_kind(plan)
                cells.append(self.cell(key, lib, "{:.2f}") + f" ms; {scan}")
            target, verdict = "", ""
            if size == sizes[-1] and len(sizes) > 1:
                first, last = self.median(f"W4 {sizes[0]}", DK), self.median(key, DK)
                growth = _ratio(last, first)
                index = "Index" in plan_kind(self.results.facts.get(f"plan {DK} {size}", []))
                target = f"p50({size_label(size)}) ≤ 1.1x p50({size_label(sizes[0])}); index scan"
                ok = None if growth is None else growth <= 1.1 and index
                verdict = _verdict(ok, f"{_x(growth)}, {'index' if index else 'no index'}")
            self.rows.append(
                [
                    f"W4 login p50, {size_label(size)} users (c=1, cheap hasher)",
                    *cells,
                    _x(_ratio(self.median(key, DK), self.median(key, FAU))),
                    target,
                    verdict,
                ]
            )

    def w5(self) -> None:
        for key, what in (("W5 same", "one e-mail"), ("W5 case", "case variants of one e-mail")):
            cells, dk_run = [], None
            for lib in (DK, FAU):
                figure = self.results.get(key, lib)
                if figure is None:
                    cells.append("not run")
                    continue
                run = figure.runs[0]
                dk_run = run if lib == DK else dk_run
                cells.append(f"201x{run['201']} 400x{run['400']} 500x{run['500']}")
            if dk_run is None:
                continue
            ok = dk_run["201"] == 1 and dk_run["500"] == 0
            n = self.settings.w5_attempts
            self.rows.append(
                [
                    f"W5 {n} concurrent registrations, {what}",
                    *cells,
                    "",
                    "exactly one 201, no 500",
                    _verdict(ok, "Doorkeeper"),
                ]
            )

    def w6(self) -> None:
        for strategy in ("db", "redis"):
            key = f"W6 {strategy}"
            if self.results.get(key, DK) is None:
                continue
            cells = []
            for lib in (DK, FAU):
                figure = self.results.get(key, lib)
                if figure is None:
                    cells.append("not run")
                    continue
                run = figure.runs[0]
                after, before = run["rss_after_kib"] / 1024, run["rss_before_kib"] / 1024
                checkpoints = run.get("checkpoints", [])
                trail = " ".join(f"{rss / 1024:.1f}" for _, rss in checkpoints)
                n = len(checkpoints)
                every = {2: "half", 3: "third", 4: "quarter", 5: "fifth"}.get(n, f"1/{n}")
                growth = round(after - before, 1) + 0.0  # never "-0.0"
                cells.append(
                    f"{after:.1f} MiB ({growth:+.1f} MiB over {run['requests']:,} logins "
                    f"at {run['rps']:.0f}/s; at each {every}: {trail})"
                )
            dk, fau = self.median(key, DK), self.median(key, FAU)
            self.rows.append(
                [
                    f"W6 RSS after {self.settings.w6_logins:,} logins, {strategy} strategy",
                    *cells,
                    _x(_ratio(dk, fau)),
                    "report",
                    "",
                ]
            )

    def table(self, ceiling: float) -> str:
        self.w1()
        self.w2(ceiling)
        self.w3()
        self.w4()
        self.w5()
        self.w6()
        header = ["workload", "Doorkeeper", "FastAPI Users", "DK ÷ FAU", "target", "verdict"]
        return _table(header, self.rows)


def plan_kind(plan: list[str]) -> str:
    text = " ".join(plan)
    for kind in ("Index Only Scan", "Bitmap Index Scan", "Index Scan", "Seq Scan"):
        if kind in text:
            return kind
    return plan[0].strip() if plan else "?"


def render(results: Results, settings: Settings, facts: dict[str, Any]) -> str:
    ceiling = facts["ceiling"]
    parts = ["## Comparison (median of runs; min-max in brackets)", ""]
    parts.append(Comparison(results, settings).table(ceiling))
    parts += ["", "## Every figure: noise and machine load", "", figures_table(results)]
    plans = {k: v for k, v in results.facts.items() if k.startswith("plan ")}
    if plans:
        parts += ["", "## W4: plans of the e-mail lookup (EXPLAIN ANALYZE)", ""]
        for key, plan in plans.items():
            parts += [f"{key.removeprefix('plan ')} users:", "", "```", *plan, "```", ""]
    return "\n".join(parts)
