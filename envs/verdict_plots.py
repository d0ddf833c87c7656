"""The verdict's plots (matplotlib, Agg backend), from a panel and its computed verdict.

- ``verdict_heatmap.png``: Sharpe per fold (columns) and configuration (rows) at the headline cost;
- ``verdict_cost.png``: the agent's mean Sharpe over seeds against cost per feature set, with the t-interval
  over seeds, and the benchmark;
- ``verdict_equity.png``: out-of-sample equity stitched across folds per feature set, with buy-and-hold;
- ``verdict_seeds.png``: every seed's Sharpe per configuration, with the mean and its t-interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from envs.panel import Panel
    from envs.verdict import Verdict


def _agents_first(names: list[str], benchmark: str) -> list[str]:
    return sorted(names, key=lambda n: ("/" not in n, n.startswith("probe/"), n != benchmark, n))


def plot_verdict(panel: Panel, verdict: Verdict, out: Path) -> list[Path]:
    """Draw the four PNGs into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.plot_labels import date_axis, describe, line_color, line_label, log_equity_axis

    bench = verdict.config.benchmark
    paths = []
    fs = verdict.fold_sharpe.loc[_agents_first(list(verdict.fold_sharpe.index), bench)]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * fs.shape[1] + 3), 0.35 * len(fs) + 1.5))
    lim = float(np.nanmax(np.abs(fs.to_numpy()))) or 1.0
    im = ax.imshow(fs.to_numpy(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(fs.shape[1]), [str(c) for c in fs.columns], fontsize=7)
    ax.set_yticks(range(len(fs)), [describe(n) for n in fs.index], fontsize=7)
    ax.set_xlabel("fold")
    ax.set_title(f"Test Sharpe per fold (mean over seeds), {verdict.headline_cost:g} bp")
    fig.colorbar(im, ax=ax, label="annualised Sharpe ratio (excess)")
    paths.append(_save(fig, out / "verdict_heatmap.png", plt))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = _agents_first(list(dict.fromkeys(s.config for s in verdict.per_seed)), bench)
    policies = {s.config: s.policy for s in panel.series.values()}
    sets = {s.config: s.feature_set for s in panel.series.values()}
    for name in (n for n in names if (sets[n] and policies[n] != "probe") or n == bench):
        rows = sorted((s for s in verdict.per_seed if s.config == name), key=lambda s: s.cost_bps)
        x = np.array([s.cost_bps for s in rows])
        y = np.array([s.mean for s in rows])
        lo = np.array([s.t_low if s.n > 1 else s.mean for s in rows])
        hi = np.array([s.t_high if s.n > 1 else s.mean for s in rows])
        style = {"color": "black", "lw": 2.0} if name == bench else {"lw": 1.0, "color": line_color(name)}
        label = line_label(name, rows[0].n, "mean")
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", ms=3, capsize=2, label=label, **style)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("cost per unit of turnover (basis points)")
    ax.set_ylabel("annualised Sharpe ratio (excess)")
    ax.set_title("Test Sharpe against cost per feature set (bars: 95 % t-interval over seeds)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "verdict_cost.png", plt))

    fig, ax = plt.subplots(figsize=(10, 4.5))
    series = [s for s in panel.at_cost(verdict.headline_cost) if (s.feature_set and s.policy != "probe")]
    series += [s for s in panel.at_cost(verdict.headline_cost) if s.config == bench]
    for s in series:
        eq = np.cumprod(1.0 + s.net, axis=1)  # (S, T)
        style = {"color": "black", "lw": 2.0} if s.config == bench else {"lw": 1.2, "color": line_color(s.config)}
        (line,) = ax.plot(panel.dates, eq.mean(axis=0), label=line_label(s.config, len(s.seeds), "mean"), **style)
        if len(s.seeds) > 1:
            ax.fill_between(panel.dates, eq.min(axis=0), eq.max(axis=0), color=line.get_color(), alpha=0.12)
    for d in panel.dates[np.flatnonzero(np.diff(panel.folds)) + 1]:
        ax.axvline(d, color="grey", lw=0.3)
    log_equity_axis(ax)
    date_axis(ax, "date (test blocks; grey lines: fold boundaries)")
    ax.set_title(f"Out-of-sample equity stitched across folds, {verdict.headline_cost:g} bp (band: seed range)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "verdict_equity.png", plt))

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    head = {s.config: s for s in verdict.per_seed if s.cost_bps == verdict.headline_cost}
    for i, name in enumerate(n for n in names if n in head):
        s = head[name]
        ax.scatter(s.sharpe, np.full(len(s.sharpe), i), s=14, alpha=0.7)
        if s.n > 1:
            ax.plot([s.t_low, s.t_high], [i, i], color="black", lw=1)
        ax.plot([s.mean], [i], marker="|", color="black", ms=12)
    shown = [n for n in names if n in head]
    ax.set_yticks(range(len(shown)), [describe(n) for n in shown], fontsize=7)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel("annualised test Sharpe ratio per seed (dots; bar: mean, line: 95 % t-interval)")
    ax.set_title(f"Seed spread, {verdict.headline_cost:g} bp")
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "verdict_seeds.png", plt))
    return paths


def _save(fig, path: Path, plt) -> Path:  # noqa: ANN001 - matplotlib objects
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
