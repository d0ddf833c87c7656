"""The walk-forward report: summary of the stitched out-of-sample paths, walkforward.json, report.md, PNGs.

Reads only the results (the daily returns frame and the JSON document), never the code that produced them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from envs.jsonsafe import jsonable
from envs.metrics import annual_return, excess_sharpe, max_drawdown, total_return

PERIODS = 252


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def probe_verdicts(probes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per feature set, over all folds: the probe's test hit rate, the share of up days (what always-long
    would hit) and the one-sided binomial p-value of beating that share."""
    out = {}
    for kind in dict.fromkeys(p["features"] for p in probes):
        mine = [p for p in probes if p["features"] == kind]
        hits, days, up = (sum(p[k] for p in mine) for k in ("test_hits", "test_days", "test_up_days"))
        base = max(up, days - up) / days
        p_value = float(stats.binomtest(hits, days, base, alternative="greater").pvalue)
        out[kind] = {"hit_rate": hits / days, "majority_rate": base, "p_value": p_value, "days": days}
    return out


def summarize(test: pd.DataFrame, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (config, cost): metrics of each seed's folds stitched in date order, their mean and range."""
    turnover = pd.DataFrame(results)
    turnover = turnover.assign(w=turnover["turnover"] * turnover["n_days"])
    turnover = turnover.groupby(["config", "cost_bps", "seed"]).apply(
        lambda g: g["w"].sum() / g["n_days"].sum(), include_groups=False
    )
    out = []
    for (config, cost), g in test.groupby(["config", "cost_bps"], sort=False):
        per_seed = []
        for seed, s in g.sort_values("date").groupby("seed"):
            net, ex = s["net_return"].to_numpy(), (s["net_return"] - s["rf"]).to_numpy()
            per_seed.append({
                "seed": int(seed), "sharpe": excess_sharpe(ex), "total_return": total_return(net),
                "annual_return": annual_return(net, PERIODS), "max_drawdown": max_drawdown(net),
                "turnover": float(turnover[(config, cost, seed)]), "n_days": len(net),
            })  # fmt: skip
        frame = pd.DataFrame(per_seed)
        row = {"config": config, "cost_bps": float(cost), "seeds": len(frame), "folds": int(g["fold"].nunique()),
               "n_days": int(frame["n_days"].iloc[0])}  # fmt: skip
        for key in ("sharpe", "total_return", "annual_return", "max_drawdown", "turnover"):
            row[key] = float(frame[key].mean())
        row["sharpe_min"], row["sharpe_max"] = float(frame["sharpe"].min()), float(frame["sharpe"].max())
        row["per_seed"] = per_seed
        out.append(row)
    return out


def _fmt(fmt: str, x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else fmt.format(x)


def reference_cost(costs: list[float]) -> float:
    """The cost level the single-number columns use: 5 bp when scored, else the highest."""
    return 5.0 if 5.0 in costs else max(costs)


def summary_table(doc: dict[str, Any]) -> str:
    """Markdown: per config, the stitched out-of-sample Sharpe (excess over rf) at every cost, mean over seeds,
    then return, drawdown and turnover at the reference cost."""
    summary = doc["summary"]
    costs = sorted({r["cost_bps"] for r in summary})
    ref = reference_cost(costs)
    by = {(r["config"], r["cost_bps"]): r for r in summary}
    head = ["Config", "Seeds"] + [f"Sharpe {c:g} bp" for c in costs]
    head += [f"Sharpe range {ref:g} bp", f"Ann. return {ref:g} bp", f"Max DD {ref:g} bp", "Turnover/yr"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for config in dict.fromkeys(r["config"] for r in summary):
        r = by[(config, ref)]
        cells = [config, str(r["seeds"])] + [_fmt("{:+.2f}", by[(config, c)]["sharpe"]) for c in costs]
        spread = f"[{_fmt('{:+.2f}', r['sharpe_min'])}, {_fmt('{:+.2f}', r['sharpe_max'])}]" if r["seeds"] > 1 else ""
        cells += [spread, _fmt("{:+.1%}", r["annual_return"]), _fmt("{:.1%}", r["max_drawdown"]),
                  _fmt("{:.1f}", r["turnover"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def probe_lines(doc: dict[str, Any]) -> list[str]:
    lines = []
    for kind, v in probe_verdicts(doc["probes"]).items():
        found = "a signal beyond the majority class" if v["p_value"] < 0.05 else "no signal beyond the majority class"
        lines.append(
            f"- `{kind}`: the probe's predicted sign was right on {v['hit_rate']:.1%} of {v['days']} test days; "
            f"always predicting the more frequent sign would score {v['majority_rate']:.1%} "
            f"(one-sided binomial p = {v['p_value']:.2f}): {found}."
        )
    return lines


def _encoder_fits(cfg: dict[str, Any]) -> str:
    """How the agent seeds share each fold's LVAE / VAE fits (what the tests over seeds include)."""
    kinds = [k.upper() for k in cfg["features"] if k in ("lvae", "vae")]
    if not kinds:
        return ""
    fits, seeds = cfg.get("encoder_seeds", 1), cfg["agent"]["seeds"]
    if fits == 1:
        return f", one {' and one '.join(kinds)} fit per fold, read by every agent seed (the seeds vary the agents)"
    share = "its own" if fits >= seeds else f"fit s mod {fits}"
    return f", {fits} {f' and {fits} '.join(kinds)} fits per fold; agent seed s reads {share} (probes: fit 0)"


def write_report(result: Any) -> None:
    """Adds "summary" to result.doc; writes walkforward.json, report.md, equity.png, equity_rules.png,
    sharpe_vs_cost.png."""
    root, doc = Path(result.root), result.doc
    doc["summary"] = summarize(result.test, doc["results"])
    (root / "walkforward.json").write_text(json.dumps(jsonable(doc), indent=1))
    _plots(root, result.test, doc)
    cfg, folds = doc["config"], doc["folds"]
    agent = cfg["agent"]
    rf = doc["data"]["rf_source"]
    rf_note = "zero (no rate series for this data; give one with --rf)" if rf == "none" else rf
    cached = sum(e["cached"] for e in doc["encoders"])
    assets = doc["data"].get("assets") or [doc["data"]["target"]]
    traded = (
        f"a book of {len(assets)} ({', '.join(assets)}; benchmark: 1/N bought once and held)"
        if doc["data"]["target"] is None else doc["data"]["target"]
    )  # fmt: skip
    md = [
        f"# Walk-forward: {agent['agent']} on {', '.join(cfg['features'])} features, {traded}",
        "",
        f"Data `{doc['data']['source']}` {doc['data']['dates'][0]} to {doc['data']['dates'][1]} "
        f"({len(doc['data']['tickers'])} tickers, hash {doc['data']['data_hash'][:12]}); {len(folds)} folds, "
        f"test {folds[0]['test_start']} to {folds[-1]['test_end']} ({cfg['window']} window, "
        f"{cfg['fold_years']}-year test blocks, validation = the year before each, purge {folds[0]['purge']} days).",
        f"Per fold, on its training rows only: normaliser, encoders ({cfg['data']['epochs']} epochs, "
        f"latents {cfg['data']['latent_dims']}), PCA, z-scoring, ridge probe, and {agent['seeds']} agent seeds "
        f"per feature set ({agent['timesteps']} steps, trained at {agent['cost_bps']:g} bp, best of "
        f"{agent['n_checkpoints']} checkpoints on validation). Encoders: {len(doc['encoders'])} "
        f"({cached} from the cache){_encoder_fits(cfg)}.",
        f"Execution: decided at a close, filled {cfg['execution_delay']} close(s) later; every block starts flat "
        f"and closes its position at its end. Cash earns the risk-free rate: {rf_note}; Sharpe is on excess "
        f"returns. Borrow fee {agent['borrow_rate']:.2%}/yr on shorts. Wall time {doc['wall_s']:.0f} s.",
        *([""] + [f"- {n}" for n in doc["data"]["notes"]] if doc["data"].get("notes") else []),
        "",
        "Out-of-sample Sharpe of the test blocks stitched across folds, mean over seeds (range over seeds at "
        f"{reference_cost(cfg['cost_bps']):g} bp). These are point estimates: no test of significance here.",
        "",
        summary_table(doc),
        "",
        "Linear probe (ridge on each feature set, fitted per fold, penalty chosen on validation):",
        "",
        *probe_lines(doc),
        "",
        "![agents' equity](equity.png)",
        "![rules' and probes' equity](equity_rules.png)",
        "![sharpe vs cost](sharpe_vs_cost.png)",
        "",
    ]
    (root / "report.md").write_text("\n".join(md))


def _plots(root: Path, test: pd.DataFrame, doc: dict[str, Any]) -> None:
    """One figure per question: equity.png (do the agents beat buy-and-hold, per feature set?),
    equity_rules.png (do simple rules or a linear probe?), sharpe_vs_cost.png (how do costs erode the agents?)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from envs.plot_labels import date_axis, line_color, line_label, log_equity_axis

    ref = reference_cost(doc["config"]["cost_bps"])
    summary = [r for r in doc["summary"] if r["cost_bps"] == ref]
    configs = list(dict.fromkeys(r["config"] for r in doc["summary"]))
    others = iter(plt.get_cmap("tab20").colors[8:] * 2)  # what the fixed agent colours leave
    color = {c: line_color(c) or next(others) for c in configs}
    agents = [c for c in configs if "/" in c and not c.startswith("probe/")]
    span = f"{doc['folds'][0]['test_start']} to {doc['folds'][-1]['test_end']}"
    boundaries = pd.to_datetime([f["test_start"] for f in doc["folds"][1:]])
    for name, shown, question in (
        ("equity", agents, "Agents per feature set against buy-and-hold"),
        ("equity_rules", [c for c in configs if c not in agents], "Rule baselines and linear probes"),
    ):
        fig, ax = plt.subplots(figsize=(10, 4.8))
        for r in (r for r in summary if r["config"] in shown or r["config"] == "buy_and_hold"):
            seeds = sorted(r["per_seed"], key=lambda s: s["total_return"])
            seed = seeds[(len(seeds) - 1) // 2]["seed"]  # the median seed
            s = test[(test["config"] == r["config"]) & (test["cost_bps"] == ref) & (test["seed"] == seed)]
            s = s.sort_values("date")
            lw = 2.0 if r["config"] == "buy_and_hold" else 1.1
            ls = "--" if r["config"].startswith("probe/") else "-"
            ax.plot(s["date"], np.cumprod(1 + s["net_return"].to_numpy()), lw=lw, ls=ls, color=color[r["config"]],
                    label=line_label(r["config"], len(seeds), "median", seed))  # fmt: skip
        for i, d in enumerate(boundaries):
            ax.axvline(d, color="grey", lw=0.5, ls=":", label="fold boundary" if i == 0 else None)
        log_equity_axis(ax)
        ax.set_title(f"{question}: out-of-sample equity, folds stitched, {span}, {ref:g} bp costs", fontsize=10)
        date_axis(ax, "date (test blocks)")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(root / f"{name}.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for config in [*agents, "buy_and_hold"]:
        rows = sorted((r for r in doc["summary"] if r["config"] == config), key=lambda r: r["cost_bps"])
        if rows:
            ax.plot([r["cost_bps"] for r in rows], [r["sharpe"] for r in rows], marker="o", color=color[config],
                    label=line_label(config, rows[0]["seeds"], "mean"))  # fmt: skip
    ax.set_xlabel("cost per unit of turnover (basis points)")
    ax.set_ylabel("annualised Sharpe ratio of excess returns")
    ax.set_title(f"Agents' out-of-sample Sharpe against trading cost, {span}", fontsize=10)
    ax.axhline(0, color="grey", lw=0.8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(root / "sharpe_vs_cost.png", dpi=110)
    plt.close(fig)
