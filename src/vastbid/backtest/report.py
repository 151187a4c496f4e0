"""Backtest reports: a CSV of every run, PNG plots (matplotlib, Agg) and one HTML page showing them.

Plots: the cost distribution per strategy (relative to on demand only), cost against deadline tightness (a
small sweep of work/deadline ratios on the same seed), and one example window's timeline per strategy (spot,
on demand, idle) against the zones' availability and spot price.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from vastbid.backtest.experiment import ExperimentResult, StrategySummary
from vastbid.backtest.replay import ON_DEMAND, PREEMPTED, SPOT, replay
from vastbid.errors import BacktestError
from vastbid.strategies.base import Strategy

CSV_FIELDS = (
    "strategy",
    "start_tick",
    "start_time",
    "cost",
    "spot_cost",
    "on_demand_cost",
    "spot_hours",
    "on_demand_hours",
    "overhead_hours",
    "finished",
    "finish_hours",
    "interruptions",
    "migrations",
    "oracle_cost",
    "regret",
)


def write_csv(result: ExperimentResult, path: Path) -> None:
    """One row per (strategy, start)."""
    gap = result.traces.gap_seconds
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for name, runs in result.runs.items():
            for run in runs:
                r = run.result
                start = result.traces.start.timestamp() + r.start_tick * gap
                writer.writerow(
                    [
                        name,
                        r.start_tick,
                        np.datetime_as_string(np.datetime64(int(start), "s")) + "Z",
                        f"{r.cost:.6f}",
                        f"{r.spot_cost:.6f}",
                        f"{r.on_demand_cost:.6f}",
                        f"{r.spot_hours:.4f}",
                        f"{r.on_demand_hours:.4f}",
                        f"{r.overhead_hours:.4f}",
                        int(r.finished),
                        "" if r.finish_hours is None else f"{r.finish_hours:.4f}",
                        r.interruptions,
                        r.migrations,
                        f"{run.sample.oracle_cost:.6f}",
                        f"{run.regret:.6f}",
                    ]
                )


def _pyplot() -> object:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - matplotlib is a declared extra
        raise BacktestError("--report needs matplotlib (pip install 'vastbid[report]')") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_costs(result: ExperimentResult, path: Path) -> None:
    """Box plot of cost / on-demand-only cost per strategy, the oracle's too."""
    plt = _pyplot()
    names = list(result.runs)
    data = [[r.result.cost / r.sample.on_demand_cost for r in result.runs[n]] for n in names]
    data.append([s.oracle_cost / s.on_demand_cost for s in result.samples])
    fig, ax = plt.subplots(figsize=(8, 4.5))  # type: ignore[attr-defined]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(names) + 2), [*names, "oracle"])
    ax.set_ylabel("cost / on-demand-only cost")
    ax.set_title("Cost distribution per strategy")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)  # type: ignore[attr-defined]


def plot_tightness(sweep: Mapping[float, Mapping[str, StrategySummary]], path: Path) -> None:
    """Mean cost / on demand against work/deadline ratio, one line per strategy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))  # type: ignore[attr-defined]
    ratios = sorted(sweep)
    names = list(next(iter(sweep.values()))) if sweep else []
    for name in names:
        ax.plot(ratios, [sweep[r][name].mean_cost_vs_on_demand for r in ratios], marker="o", label=name)
    ax.set_xlabel("work / deadline (tighter to the right)")
    ax.set_ylabel("mean cost / on-demand-only cost")
    ax.set_title("Cost against deadline tightness")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)  # type: ignore[attr-defined]


def plot_timeline(result: ExperimentResult, strategies: Sequence[Strategy], path: Path) -> None:
    """The first sample's window: availability and price per zone, then each strategy's mode per tick."""
    plt = _pyplot()
    if not result.samples:
        raise BacktestError("no sample to plot")
    start = result.samples[0].start_tick
    shape = result.shape
    hours = np.arange(shape.deadline_ticks) * shape.gap_hours
    end = start + shape.deadline_ticks
    avail = result.traces.available()[:, start:end]
    prices = result.traces.spot_prices()[:, start:end]
    rows = len(strategies) + 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.3 * rows + 1.5), sharex=True)  # type: ignore[attr-defined]
    top = axes[0]
    for z, name in enumerate(result.traces.names):
        shown = np.where(avail[z], prices[z], np.nan)
        top.plot(hours, shown, lw=1, label=f"{name} spot $/h (gaps: no capacity)")
    top.set_ylabel("spot $/h")
    top.legend(fontsize=6, loc="upper right")
    colours = {SPOT: "tab:green", ON_DEMAND: "tab:red", PREEMPTED: "tab:orange"}
    for ax, strategy in zip(axes[1:], strategies, strict=True):
        run = replay(strategy, result.traces, shape, start)
        for code, colour in colours.items():
            mask = run.timeline == code
            ax.fill_between(hours, 0, 1, where=mask, color=colour, step="post", lw=0)
        ax.set_yticks([])
        ax.set_ylabel(strategy.name, rotation=0, ha="right", fontsize=8)
    axes[-1].set_xlabel("hours since the job started (green: spot, red: on demand, orange: preempted, white: idle)")
    fig.suptitle("Example run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)  # type: ignore[attr-defined]


def write_html(
    path: Path, title: str, summary: Mapping[str, StrategySummary], images: Sequence[str], notes: Sequence[str]
) -> None:
    """One page: the settings, the summary table and the plots."""
    head = ["strategy", *next(iter(summary.values())).as_dict()] if summary else ["strategy"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in [name, *s.as_dict().values()]) + "</tr>"
        for name, s in summary.items()
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        + "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        + "<table><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + f"</tr>{rows}</table>"
        + "".join(f"<p><img src='{html.escape(i)}' alt='{html.escape(i)}'></p>" for i in images)
        + "<p>Runs: <a href='runs.csv'>runs.csv</a></p></body></html>"
    )
    path.write_text(page, encoding="utf-8")


def write_report(
    result: ExperimentResult,
    strategies: Sequence[Strategy],
    directory: Path,
    sweep: Callable[[], Mapping[float, Mapping[str, StrategySummary]]],
    notes: Sequence[str],
) -> Path:
    """Write runs.csv, the PNGs and index.html into ``directory``; returns the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    write_csv(result, directory / "runs.csv")
    plot_costs(result, directory / "costs.png")
    plot_tightness(sweep(), directory / "tightness.png")
    plot_timeline(result, strategies, directory / "timeline.png")
    page = directory / "index.html"
    write_html(page, "vastbid backtest", result.summary(), ["costs.png", "tightness.png", "timeline.png"], notes)
    return page
