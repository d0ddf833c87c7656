"""What a report's plot lines and axes are called: one naming for the backtest, walk-forward and verdict plots.

A line's legend says what it is (the agent and the feature set it reads, or the rule) and, where it stands for
several seeds, which summary of them it is ("median of 3 seeds: seed 1", "mean of 5 seeds"). Date axes get
concise dates; equity and drawdown axes state their units.
"""

from __future__ import annotations

from typing import Any

FEATURE_SETS = {
    "lvae": "Ladder-VAE latents",
    "vae": "plain-VAE latents",
    "pca": "PCA of the windows",
    "raw": "raw windows",
}
RULES = {
    "buy_and_hold": "buy-and-hold (benchmark)",
    "equal_weight": "1/N rebalanced monthly",
    "cash": "cash (risk-free)",
    "vol_target": "volatility target",
    "tsmom": "12-1 month momentum",
    "ma10": "10-month moving average",
    "random": "random policy",
}
EQUITY_LABEL = "equity, net of costs (start = 1)"
COLORS = {"lvae": "tab:blue", "vae": "tab:red", "pca": "tab:orange", "raw": "tab:green", "buy_and_hold": "black"}


def line_color(config: str) -> str | None:
    """The same colour for a feature set's agent in every plot; black for the benchmark; None: the next one."""
    policy, _, features = config.partition("/")
    return COLORS.get(policy) if not features else COLORS.get(features) if policy != "probe" else None


def describe(config: str) -> str:
    """'ppo/lvae' -> 'PPO on Ladder-VAE latents'; 'probe/pca' -> 'ridge probe on PCA of the windows'."""
    policy, _, features = config.partition("/")
    if not features:
        return RULES.get(policy, policy)
    who = "ridge probe" if policy == "probe" else policy.upper()
    return f"{who} on {FEATURE_SETS.get(features, features)}"


def line_label(config: str, n_seeds: int, summary: str = "median", seed: int | None = None) -> str:
    """The legend entry of one line that stands for ``n_seeds`` seeds, summarised by ``summary``."""
    if n_seeds <= 1:
        return describe(config)
    which = f": seed {seed}" if seed is not None else ""
    return f"{describe(config)} ({summary} of {n_seeds} seeds{which})"


def date_axis(ax: Any, label: str = "date") -> None:
    """Concise dates on the x axis (years, months as the span needs), and its label."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(label)


def percent_axis(ax: Any, axis: str = "y") -> None:
    """Tick labels as percentages of values given as fractions."""
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


def log_equity_axis(ax: Any) -> None:
    """A log-scale equity axis labelled in plain numbers (0.8, 1, 1.5), not powers of ten."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):  # LogFormatter's choice of ticks to label (minor ones on short spans), as "0.8"
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return f"{x:g}"

    ax.set_yscale("log")
    for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        set_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 1)))
    ax.set_ylabel(EQUITY_LABEL.replace(")", ", log scale)"))
