"""The backtest report: report.json, report.md and PNGs (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.jsonsafe import jsonable

if TYPE_CHECKING:
    from envs.backtest import Report, Run

COLUMNS = (  # (metric key, header, format, percent)
    ("total_return", "Total return", "{:+.1%}", True),
    ("annual_return", "Ann. return", "{:+.1%}", True),
    ("annual_volatility", "Ann. vol", "{:.1%}", True),
    ("sharpe", "Sharpe", "{:+.2f}", False),
    ("sortino", "Sortino", "{:+.2f}", False),
    ("max_drawdown", "Max DD", "{:.1%}", True),
    ("calmar", "Calmar", "{:+.2f}", False),
    ("turnover", "Turnover/yr", "{:.1f}", False),
    ("hit_rate", "Hit rate", "{:.1%}", True),
    ("costs_paid", "Costs", "{:.2%}", True),
)
WITH_CI = ("total_return", "sharpe")


def _fmt(fmt: str, x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else fmt.format(x)


def summary_table(report: Report) -> str:
    """Markdown table of the test-period metrics: mean over seeds, [95 % t-interval over the n seeds]."""
    head = ["Policy", "Seeds"] + [h for _, h, _, _ in COLUMNS] + ["DSR", "Valid Sharpe"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in report.rows.items():
        cells = [name, str(len(row["seeds"]))]
        for key, _, fmt, _ in COLUMNS:
            m = row["metrics"][key]
            cell = _fmt(fmt, m["mean"])
            if key in WITH_CI and len(row["seeds"]) > 1:
                cell += f" [{_fmt(fmt, m['ci'][0])}, {_fmt(fmt, m['ci'][1])}]"
            cells.append(cell)
        cells += [_fmt("{:.2f}", row["deflated_sharpe"]["mean"]), _fmt("{:+.2f}", row["valid_sharpe"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def representative(runs: list[Run], name: str) -> Run:
    """The run of ``name`` whose test total return is the median over its seeds (lower middle)."""
    mine = sorted((r for r in runs if r.name == name), key=lambda r: r.test.equity[-1])
    return mine[(len(mine) - 1) // 2]


def write_report(report: Report) -> None:
    """report.json, report.md, equity.png, drawdown.png, positions.png under ``report.root``."""
    from envs.backtest import config_dict

    root = report.root
    doc = {
        "config": config_dict(report.config),
        "build": str(report.build_root),
        # the days whose returns are scored: the equity curve's first date is the first fill, which earns nothing
        "test_period": [str(report.test_dates[1])[:10], str(report.test_dates[-1])[:10]],
        "selection": "best validation Sharpe over n_checkpoints checkpoints per (feature set, seed)",
        "risk_free": report.rf_source,
        "n_trials": report.n_trials,
        "n_effective": report.n_effective,
        "wall_s": report.wall_s,
        "rows": report.rows,
    }
    if report.verdict is not None:
        doc.update(report.verdict.to_json())
    (root / "report.json").write_text(json.dumps(jsonable(doc), indent=2))
    _plots(report)
    cfg = report.config
    md = [f"# Backtest: {cfg.agent} on {', '.join(cfg.features)} features", ""]
    if report.verdict is not None:
        from envs.verdict_plots import plot_verdict
        from envs.verdict_text import markdown

        plot_verdict(_verdict_panel(report), report.verdict, root)
        md += [
            f"One test period, one fold (risk-free rate: {report.rf_source}): the walk-forward, with more folds, is "
            "where a verdict can have power; this one says what this one test period alone supports.",
            "",
            markdown(report.verdict),
            "",
            "## Table",
            "",
        ]
    md += [
        f"Build `{report.build_root}`; test period {doc['test_period'][0]} to {doc['test_period'][1]} "
        f"({len(report.test_dates) - 1} trading days); costs {cfg.cost_bps} bps + slippage "
        f"{cfg.slippage_bps} bps per unit of turnover, borrow {cfg.borrow_rate:.2%}/yr on shorts; cash earns the "
        f"risk-free rate ({report.rf_source}), and Sharpe and Sortino ratios are in excess of it; "
        f"{cfg.resolved_action_space} actions; {cfg.timesteps} training steps x {cfg.seeds} seeds; orders decided "
        f"at a close fill {cfg.execution_delay} close{'s' if cfg.execution_delay != 1 else ''} later.",
        "",
        "Agents train on the training period (random episodes); each run keeps the checkpoint with the best "
        f"validation Sharpe ({cfg.n_checkpoints} checkpoints); the table is the test period, mean over seeds "
        "with a 95 % t-interval over the seeds (seed-to-seed spread only, not market uncertainty; none with one "
        "seed). A row above another is not evidence that it is better: see the paired tests of the verdict. "
        "DSR: deflated Sharpe ratio (Bailey & López de Prado 2014), the same for every row: "
        f"{report.n_trials} configurations compared on this data (run log), effective "
        f"{report.n_effective:.1f} after their correlation.",
        "",
        summary_table(report),
        "",
        "![equity](equity.png)",
        "![drawdown](drawdown.png)",
        "![positions](positions.png)",
        "",
    ]
    (root / "report.md").write_text("\n".join(md))


def _verdict_panel(report: Report):  # noqa: ANN202 - envs.panel.Panel
    from envs.backtest import runs_frame
    from envs.panel import check_panel, to_panel

    dates = {"test": report.test_dates}
    return to_panel(check_panel(runs_frame(report.runs, dates, report.config.cost_bps, "test")))


def _plots(report: Report) -> None:
    """equity.png (does an agent beat buy-and-hold?), drawdown.png (how deep are its losses?), positions.png
    (what does it hold?); each line is the median seed of its policy, and says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.plot_labels import EQUITY_LABEL, date_axis, line_color, line_label, percent_axis

    dates = pd_dates(report.test_dates)
    names = list(report.rows)
    reps = {name: representative(report.runs, name) for name in names}
    n_seeds = {name: sum(r.name == name for r in report.runs) for name in names}
    period = f"test period {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}, {report.config.cost_bps:g} bp costs"
    for kind in ("equity", "drawdown"):
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for name, run in reps.items():
            equity = np.concatenate([[1.0], run.test.equity])
            y = equity if kind == "equity" else equity / np.maximum.accumulate(equity) - 1.0
            style = {"color": "black", "lw": 2.0} if name == "buy_and_hold" else {"lw": 1.0, "color": line_color(name)}
            ax.plot(dates[: len(y)], y, label=line_label(name, n_seeds[name], "median", run.seed), **style)
        title = "Growth of 1 invested" if kind == "equity" else "Drawdown from the running peak"
        ax.set_title(f"{title}, {period}")
        ax.set_ylabel(EQUITY_LABEL if kind == "equity" else "drawdown (% of peak equity)")
        if kind == "drawdown":
            percent_axis(ax)
        date_axis(ax)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(report.root / f"{kind}.png", dpi=110)
        plt.close(fig)
    agents = [n for n in names if reps[n].checkpoint is not None] or names
    fig, axes = plt.subplots(len(agents), 1, figsize=(10, 1.8 * len(agents) + 0.8), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], agents, strict=True):
        pos = np.asarray(reps[name].test.positions).reshape(len(reps[name].test.returns), -1).sum(axis=1)
        ax.step(dates[: len(pos)], pos, where="post", lw=0.8)
        ax.set_ylabel("position\n(x equity)")
        ax.set_title(line_label(name, n_seeds[name], "median", reps[name].seed), fontsize=9)
        ax.grid(alpha=0.3)
    date_axis(axes[-1, 0])
    fig.suptitle(f"Positions held (1 = long the index with all equity, -1 = short), {period}", fontsize=10)
    fig.tight_layout()
    fig.savefig(report.root / "positions.png", dpi=110)
    plt.close(fig)


def pd_dates(dates: np.ndarray) -> Any:
    """The dates as a pandas DatetimeIndex (matplotlib's date axis and strftime read it)."""
    import pandas as pd

    return pd.DatetimeIndex(pd.to_datetime(dates))
