"""The verdicts: one row per metric (metric, backend, huying, baseline, ratio, target, met), the
table ``make bench`` prints, and the rows ``bench/results.json`` keeps beside the raw figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

P4_P95_MS = 50.0
P5_P99_MS = 200.0
P6_P95_MS = 5.0
P1_P99_MS = 50.0


@dataclass(frozen=True)
class Row:
    metric: str
    backend: str
    huying: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None  # None: for context, no target

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def rate(x: float) -> str:
    return f"{x:,.0f}/s"


def ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} ms"


def p1_rows(backend: str, huying: dict[str, Any], bare: dict[str, Any], workers: int) -> list[Row]:
    target = 0.5 if backend == "sqlite" else 0.4
    ratio = huying["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0.0
    clean = not failed(huying)
    note = f" ({workers} workers)" if workers > 1 else ""
    return [
        Row(
            f"P1 ingest requests/s{note}",
            backend,
            rate(huying["requests_per_s"]),
            rate(bare["requests_per_s"]),
            f"{ratio:.2f}",
            f"≥ {target}× bare",
            ratio >= target and clean,
        ),
        Row(
            "P1 ingest p99",
            backend,
            ms(huying["p99_ms"]),
            ms(bare["p99_ms"]),
            "—",
            f"≤ {P1_P99_MS:g} ms",
            (huying["p99_ms"] or 1e9) <= P1_P99_MS and clean,
        ),
        Row(
            "P1 non-2xx / socket errors",
            backend,
            f"{huying['non_2xx']} / {huying['socket_errors']}",
            f"{bare['non_2xx']} / {bare['socket_errors']}",
            "—",
            "0",
            clean,
        ),
    ]


def failed(load: dict[str, Any]) -> bool:
    """A load that cannot count: any non-2xx answer or socket error, or no request answered."""
    return bool(load["non_2xx"] or load["socket_errors"] or not load["requests"])


def best(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """The load of these runs that served the most requests/s, with every run beside it
    (``runs``): a machine that slows for a moment costs one run, not the figure."""
    return max(loads, key=lambda load: load["requests_per_s"]) | {"runs": loads}


def context_row(name: str, backend: str, server: dict[str, Any], bare: dict[str, Any]) -> Row:
    ratio = server["requests_per_s"] / bare["requests_per_s"] if bare["requests_per_s"] else 0.0
    figures = f"{rate(server['requests_per_s'])}, p99 {ms(server['p99_ms'])}, non-2xx {server['non_2xx']}"
    return Row(f"P1 context: {name}", backend, figures, rate(bare["requests_per_s"]), f"{ratio:.2f}")


def ratio_row(metric: str, backend: str, ours: float, theirs: float, target: float, unit: str = "/s") -> Row:
    ratio = ours / theirs if theirs else 0.0
    return Row(
        metric,
        backend,
        f"{ours:,.0f}{unit}",
        f"{theirs:,.0f}{unit}",
        f"{ratio:.3f}",
        f"≥ {target}×",
        ratio >= target,
    )


def latency_row(metric: str, backend: str, figures: dict[str, Any], key: str, bound: float) -> Row:
    value = figures.get(key)
    ok = (
        value is not None
        and value <= bound
        and figures.get("non_200", 0) == 0
        and not figures.get("not_visible", 0)
    )
    return Row(metric, backend, ms(value), "—", "—", f"{key.split('_')[0]} ≤ {bound:g} ms", ok)


def table(rows: list[Row]) -> str:
    head = ("metric", "backend", "huying", "baseline", "ratio", "target", "met")
    cells = [head] + [
        (r.metric, r.backend, r.huying, r.baseline, r.ratio, r.target, _met(r.met)) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _met(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "NO")
