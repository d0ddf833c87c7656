"""The verdict in words: paragraphs generated from the numbers of a :class:`envs.verdict.Verdict`.

A claim ("evidence that A beats B") is made only when the Holm-adjusted p-value of that comparison is below
``alpha``; a nominally small p-value that does not survive the correction is reported as such, with the
conclusion "no evidence either way". Nothing here computes a statistic.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envs.verdict import Comparison, DSRResult, Verdict


def _f(x: float | None, fmt: str = "{:+.2f}") -> str:
    return "n/a" if x is None or not math.isfinite(x) else fmt.format(x)


def _p(p: float) -> str:
    """A p-value with its relation: "= 0.42", "= 0.048", "< 0.001": three decimals below 0.1, where a claim's
    threshold is, so that 0.048 and 0.052 do not both read 0.05."""
    if not math.isfinite(p):
        return "= n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.0995 else f"= {p:.2f}"  # 0.0996 reads 0.10, not 0.100


def _cost(c: float) -> str:
    return f"{c:g} bp"


def _n(k: int, what: str) -> str:
    return f"{k} {what}" if k == 1 else f"{k} {what}s"


def conclusion(
    sharpe: Comparison,
    mean: Comparison | None,
    seeds: Comparison | None,
    alpha: float,
    k: int,
    mean_seeds: Comparison | None = None,
) -> str:
    """What the paired tests of one (a, b, cost) support, in words.

    A claim about a metric needs its Holm-adjusted p-value over days (bootstrap for the Sharpe ratio, HAC for
    the mean return) below ``alpha`` and, when there are seeds to compare, the Holm-adjusted t-test over seeds
    of the same metric (``seeds`` for the Sharpe ratio, ``mean_seeds`` for the mean return) too, with the same
    sign. A metric without its own seed test (``mean_seeds`` None while ``seeds`` is not) makes no claim across
    seeds.
    """
    return _assess(sharpe, mean, seeds, alpha, k, mean_seeds)[1]


def claimed(
    sharpe: Comparison, mean: Comparison | None, seeds: Comparison | None, alpha: float,
    mean_seeds: Comparison | None = None,
) -> set[str]:  # fmt: skip
    """The metrics ("sharpe", "mean_daily_net_return") that :func:`conclusion` makes a claim about."""
    return _assess(sharpe, mean, seeds, alpha, 1, mean_seeds)[0]


def _assess(
    sharpe: Comparison, mean: Comparison | None, seeds: Comparison | None, alpha: float, k: int,
    mean_seeds: Comparison | None,
) -> tuple[set[str], str]:  # fmt: skip
    over_seeds = seeds is not None or mean_seeds is not None
    found, names, unsupported = [], set(), []
    tests = ((sharpe, seeds, "Sharpe ratio", "sharpe"), (mean, mean_seeds, "mean net return", "mean_daily_net_return"))
    for test, by_seed, name, metric in tests:
        if test is None or test.p_holm >= alpha:
            continue
        agrees = by_seed is not None and (by_seed.mean_diff > 0) == (test.mean_diff > 0)
        if not over_seeds or (agrees and by_seed.p_holm < alpha):
            found.append(f"a {'higher' if test.mean_diff > 0 else 'lower'} {name}")
            names.add(metric)
        else:
            against = by_seed is not None and not agrees and by_seed.p_holm < alpha
            unsupported.append((name, by_seed, against))
    if found:
        over = "over days and seeds" if over_seeds else "over days"
        text = f"evidence of {' and '.join(found)} for {sharpe.a} (Holm-adjusted, {over})"
        for name, by_seed, against in unsupported:
            how = "and across seeds the other way" if against else "but not across seeds"
            text += f"; its {name} is significant over days {how} ({_seed_p(by_seed)})"
        return names, text
    if unsupported:
        detail = "; ".join(f"{name}: {_seed_p(by_seed)}" for name, by_seed, _ in unsupported)
        if any(against for *_, against in unsupported):
            return set(), (f"significant over days, and across seeds the other way ({detail}): the days and the "
                           "seeds disagree — no evidence either way")  # fmt: skip
        return (
            set(),
            f"significant over days but not across seeds ({detail}): seed noise could explain it — no "
            "evidence either way",
        )
    agree = [t.p_holm for t in (seeds, mean_seeds) if t is not None and t.p_holm < alpha]
    if agree:  # the seeds agree, the days do not
        days = min(t.p_holm for t in (sharpe, mean) if t is not None)
        return set(), (f"significant across seeds (Holm p {_p(min(agree))}) but not over days (Holm p {_p(days)}): "
                       "the seeds agree on these test days, which could be luck — no evidence either way")  # fmt: skip
    raw = min(t.p_value for t in (sharpe, mean, seeds, mean_seeds) if t is not None)
    if raw < alpha:
        return set(), f"nominal p < {alpha:g}, not significant after Holm's correction over {k}: no evidence either way"
    return set(), "no evidence either way"


def _seed_p(t: Comparison | None) -> str:
    if t is None:
        return "no test over seeds"
    return f"n = {t.n_seeds}, t-test p {_p(t.p_value)}, Holm p {_p(t.p_holm)}"


def comparison_paragraphs(v: Verdict) -> list[str]:
    """One line per (a, b, cost): Sharpe difference, mean-return difference, n, conclusion."""
    sharpe = [c for c in v.comparisons if c.metric == "sharpe"]
    means = {(c.a, c.b, c.cost_bps): c for c in v.comparisons if c.metric == "mean_daily_net_return"}
    by_seed = {(c.a, c.b, c.cost_bps): c for c in v.comparisons if c.metric == "sharpe_over_seeds"}
    mean_by_seed = {(c.a, c.b, c.cost_bps): c for c in v.comparisons if c.metric == "mean_return_over_seeds"}
    lines = []
    for c in sharpe:
        key = (c.a, c.b, c.cost_bps)
        m, sd, msd = means.get(key), by_seed.get(key), mean_by_seed.get(key)
        seeds = _n(c.n_seeds, "seed") + ("" if c.n_seeds_b == c.n_seeds else f" (vs {c.n_seeds_b})")
        text = (
            f"{c.a} vs {c.b} at {_cost(c.cost_bps)}: mean Sharpe difference {_f(c.mean_diff)} "
            f"[{_f(c.ci_low)}, {_f(c.ci_high)}], bootstrap p {_p(c.p_value)} (Holm p {_p(c.p_holm)})"
        )
        if sd is not None:
            text += f", over seeds [{_f(sd.ci_low)}, {_f(sd.ci_high)}], t-test p {_p(sd.p_value)}"
        if m is not None:
            y = 252 * 100  # daily fraction -> % a year
            text += (
                f"; mean net return difference {_f(m.mean_diff * y, '{:+.1f}')} %/yr "
                f"[{_f(m.ci_low * y, '{:+.1f}')}, {_f(m.ci_high * y, '{:+.1f}')}], HAC p {_p(m.p_value)}"
            )
            if msd is not None:
                text += f", over seeds t-test p {_p(msd.p_value)}"
        text += f"; over {_n(c.n_folds, 'fold')} × {seeds}, {c.n_days} days — "
        lines.append(text + conclusion(c, m, sd, v.config.alpha, len(sharpe), msd) + ".")
    return lines


def spa_paragraph(v: Verdict) -> str | None:
    s = v.spa.get(v.headline_cost)
    if s is None:
        return None
    text = (
        f"Hansen's SPA at {_cost(v.headline_cost)} against {s.benchmark} over the {s.n_models} other "
        f"configurations (H0: none has a higher mean daily net return): p {_p(s.p_value)}"
    )
    others = [f"{_cost(k)}: p {_p(r.p_value)}" for k, r in sorted(v.spa.items()) if k != v.headline_cost]
    if others:
        text += f" ({', '.join(others)})"
    if s.p_value < v.config.alpha:
        sup = ", ".join(s.superior) if s.superior else "none singled out"
        return text + f" — at least one configuration beats {s.benchmark}; StepM finds: {sup}."
    return text + f" — no configuration shows evidence of beating {s.benchmark}."


def mcs_paragraph(v: Verdict) -> str | None:
    m = v.mcs
    if m is None:
        return None
    keep = ", ".join(m.included)
    text = f"Model confidence set ({1 - m.alpha:.0%}) over the {v.mcs_policy} feature sets at {_cost(v.headline_cost)}"
    if not m.excluded:
        return text + f" keeps all of {keep}: the data cannot tell them apart."
    return text + f" keeps {keep} and excludes {', '.join(m.excluded)} (worse at the {m.alpha:.0%} level)."


def pbo_paragraph(v: Verdict) -> str:
    text = (
        f"Probability of backtest overfitting (CSCV, {v.pbo_blocks} blocks, {len(v.pbo_configs)} configurations, "
        f"{_cost(v.headline_cost)}): {v.pbo:.2f} — the configuration with the best in-sample Sharpe ranks at or "
        f"below the median out of sample in {v.pbo:.0%} of the splits (it trails the risk-free rate out of sample in "
        f"{v.pbo_prob_oos_loss:.0%})"
    )
    if v.pbo >= 0.5:
        return text + "; choosing by past performance is no better than chance here."
    return text + "."


def _candidates(d: DSRResult) -> str:
    """What the selection chose among: "4 agents and 4 probes", "3 agents"; fixed rules only when no search ran."""
    n_rules = d.n_run - d.n_agents - d.n_probes
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
             ((d.n_agents, "agent"), (d.n_probes, "probe"), (n_rules, "fixed rule")) if n]  # fmt: skip
    return " and ".join(parts) if len(parts) < 3 else f"{parts[0]}, {parts[1]} and {parts[2]}"


def dsr_paragraph(v: Verdict) -> str | None:
    d = v.dsr
    if d is None:
        return None
    stage = "validation" if d.selected_by == "validation Sharpe" else "test"
    spread = "" if d.var_from == "candidates" else "; one candidate, so their Sharpe variance is the null's, 1/(T−1)"
    between = d.sr0 - d.uplift
    text = (
        f"Deflated Sharpe ratio of the selection ({d.selected}, the best {stage} Sharpe at {_cost(d.cost_bps)} among "
        f"{_candidates(d)}, mean over seeds): {stage} Sharpe {_f(d.sharpe)} against an expected maximum of "
        f"{_f(d.sr0)} under the null"
    )
    configs = (
        f"the best of {d.n_trials} configurations searched on this data ({d.n_run} in this run; effective "
        f"{d.n_effective:.1f} at mean correlation {_f(d.rho, '{:.2f}')}{spread})"
    )
    if d.uplift_from == "none":
        text += f", for {configs}"
    else:
        lifted = d.uplift_config or d.selected
        looks = "penalties" if lifted.split("/", 1)[0] == "probe" else "checkpoints"
        source = {
            "looks": "from the spread of their validation Sharpes",
            "null": "at the null's spread 1/(D−1), an upper bound: their Sharpes were not recorded",
            "both": "from the spread of their validation Sharpes where recorded, else the null's",
        }[d.uplift_from]
        folds = f"{v.n_folds} fold{'s' if v.n_folds != 1 else ''}"
        if lifted == d.selected:
            lift = f"keeping the best of its {d.uplift_looks} {looks} in each of {folds} ({source})"
        else:  # the winner is held to the largest lift among the candidates
            lift = (
                f"keeping the best of {d.uplift_looks} {looks} in each of {folds}, the largest such lift among the "
                f"candidates ({lifted}'s, {source})"
            )
        text += f": {_f(between)} for {configs}, plus {_f(d.uplift)} for {lift}"
    text += f", DSR = {_f(d.value, '{:.2f}')}"
    if math.isfinite(d.value) and d.value >= 1 - v.config.alpha:
        text += f" — the selection beats chance at {1 - v.config.alpha:.0%}"
    else:
        text += " — the selection does not beat what chance alone would pick"
    return text + (
        f"; on the test blocks its Sharpe is {_f(d.test_sharpe)}, probabilistic Sharpe P(SR > 0) = "
        f"{_f(d.test_psr, '{:.2f}')}."
    )


def probe_paragraph(v: Verdict) -> str | None:
    if not v.probes:
        return None
    bench, parts, above, below = v.config.benchmark, [], [], []
    for c in v.probes:
        name = c.a.split("/", 1)[-1]
        parts.append(f"{name} {_f(c.mean_diff)} [{_f(c.ci_low)}, {_f(c.ci_high)}] p {_p(c.p_value)}")
        if c.p_holm < v.config.alpha:
            (above if c.mean_diff > 0 else below).append(name)
    head = f"Linear probes against {bench} at {_cost(v.headline_cost)} (Sharpe difference): " + "; ".join(parts)
    if above:
        tail = f" — the probes on {', '.join(above)} beat {bench} (Holm-adjusted): a tradable signal in those features"
    else:
        tail = f" — no feature set's probe shows a tradable signal beyond holding {bench}"
    return head + tail + (f"; {', '.join(below)} significantly below it." if below else ".")


def _claims(v: Verdict, c: Comparison) -> bool:
    """Whether the paragraph of ``c``'s (a, b, cost) makes a claim about ``c``'s metric."""
    if c.metric.endswith("_over_seeds"):
        return False
    same = {x.metric: x for x in v.comparisons if (x.a, x.b, x.cost_bps) == (c.a, c.b, c.cost_bps)}
    found = claimed(same["sharpe"], same.get("mean_daily_net_return"), same.get("sharpe_over_seeds"),
                    v.config.alpha, same.get("mean_return_over_seeds"))  # fmt: skip
    return c.metric in found


def bottom_line(v: Verdict) -> str:
    """The first paragraph: what can and cannot be concluded."""
    alpha = v.config.alpha
    sharpe = [c for c in v.comparisons if c.metric == "sharpe"]
    feats = [c for c in sharpe if c.b != v.config.benchmark]
    sig = [c for c in v.comparisons if c.b != v.config.benchmark and _claims(v, c)]
    ref = v.config.reference
    if not feats:
        first = f"No {ref} agent to compare."
    elif not sig:
        others = sorted({c.b.split("/", 1)[-1] for c in feats})
        first = (f"No evidence that {ref} features make the agent better or worse than {', '.join(others)} at any "
                 f"cost ({len(feats)} Sharpe comparisons, none significant after Holm's correction).")  # fmt: skip
    else:
        groups: dict[tuple[str, str, str], tuple[dict, dict]] = {}
        for c in sig:
            names, costs = groups.setdefault((c.a, "above" if c.mean_diff > 0 else "below", c.b), ({}, {}))
            names["Sharpe" if c.metric == "sharpe" else "mean net return"] = None
            costs[c.cost_bps] = None
        found = [
            f"{a} {side} {b} in {' and '.join(names)} at {', '.join(f'{k:g}' for k in sorted(costs))} bp"
            for (a, side, b), (names, costs) in groups.items()
        ]
        over = "over days and seeds" if any(c.n_seeds > 1 or c.n_seeds_b > 1 for c in sig) else "over days"
        first = f"Significant after Holm's correction, {over}: " + "; ".join(found) + "."
    s = v.spa.get(v.headline_cost)
    if s is not None and s.p_value < alpha:
        second = f"At {_cost(v.headline_cost)} some configuration beats {s.benchmark} (SPA p {_p(s.p_value)})."
    elif s is not None:
        second = f"No configuration shows evidence of beating {s.benchmark} (SPA p {_p(s.p_value)})."
    else:
        second = ""
    spread = [p for p in v.per_seed if p.cost_bps == v.headline_cost and p.n > 1 and p.config.endswith("/" + ref)]
    third = " ".join(
        f"The {p.n} seeds of {p.config} range from {_f(min(p.sharpe))} to {_f(max(p.sharpe))} in Sharpe "
        f"(t-interval of the mean [{_f(p.t_low)}, {_f(p.t_high)}], n = {p.n})." for p in spread
    )  # fmt: skip
    head = f"Out of sample {v.period[0]} to {v.period[1]}, {_n(v.n_folds, 'fold')}, {v.n_days} days."
    return " ".join(x for x in (head, first, second, third) if x)


def paragraphs(v: Verdict) -> list[str]:
    """The verdict, first the bottom line, then one paragraph per test."""
    out = [bottom_line(v), *comparison_paragraphs(v)]
    out += [p for p in (spa_paragraph(v), mcs_paragraph(v), pbo_paragraph(v), dsr_paragraph(v)) if p]
    probe = probe_paragraph(v)
    return out + ([probe] if probe else [])


def seed_table(v: Verdict) -> str:
    """Markdown table at the headline cost: every seed's Sharpe, t-interval with n, bootstrap interval."""
    a = v.config.alpha
    head = ["Configuration", "n", "Sharpe per seed", f"Mean [{1 - a:.0%} t-interval]",
            f"[{1 - a:.0%} bootstrap over days]", "Valid Sharpe"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in (s for s in v.per_seed if s.cost_bps == v.headline_cost):
        t = f"[{_f(s.t_low)}, {_f(s.t_high)}]" if s.n > 1 else "(one seed)"
        lines.append(
            f"| {s.config} | {s.n} | {' '.join(_f(x) for x in s.sharpe)} | {_f(s.mean)} {t} | "
            f"[{_f(s.boot_low)}, {_f(s.boot_high)}] | {_f(s.valid_sharpe)} |"
        )
    return "\n".join(lines)


def cost_table(v: Verdict) -> str:
    """Markdown table: mean Sharpe over seeds of every configuration at every cost."""
    costs = sorted({s.cost_bps for s in v.per_seed})
    rows: dict[str, dict[float, float]] = {}
    for s in v.per_seed:
        rows.setdefault(s.config, {})[s.cost_bps] = s.mean
    lines = ["| Configuration | " + " | ".join(_cost(c) for c in costs) + " |", "|---|" + "---|" * len(costs)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(_f(r.get(c)) for c in costs) + " |")
    return "\n".join(lines)


def markdown(v: Verdict) -> str:
    """The verdict section of report.md."""
    ps = list(v.paragraphs)
    body = [
        "## Verdict",
        "",
        ps[0],
        "",
        *[f"- {p}" for p in ps[1:]],
        "",
        f"Sharpe ratios of daily net returns in excess of the risk-free rate, annualised, over the stitched test "
        f"blocks of all folds. Intervals {1 - v.config.alpha:.0%}: t over seeds (n stated); bootstrap: stationary "
        f"block bootstrap over days with the trained agents fixed (mean block {v.block:.1f} d, {v.config.reps} "
        "reps). Paired tests on the same days and, for the Sharpe ratio and the mean return, across seeds (Welch, "
        "or one-sample against a deterministic configuration); p-values "
        "Holm-adjusted over all comparisons of a metric. A claim needs both the test over days and the one "
        "over seeds."
        + (f" {v.dropped_days} days not shared by every configuration were left out." if v.dropped_days else ""),
        "",
        f"### Per seed at {_cost(v.headline_cost)}",
        "",
        seed_table(v),
        "",
        "### Mean Sharpe over seeds by cost",
        "",
        cost_table(v),
        "",
        "![fold x feature-set Sharpe](verdict_heatmap.png)",
        "![Sharpe against cost](verdict_cost.png)",
        "![out-of-sample equity](verdict_equity.png)",
        "![per-seed Sharpe](verdict_seeds.png)",
    ]
    return "\n".join(body)
