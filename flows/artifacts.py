"""Run results -> Prefect artifacts: pure builders (Markdown, table rows, links) and one thin publisher.

The builders take what the library wrote (a build manifest, validation results, a backtest report) and
return strings and lists of dicts; ``publish`` is the only function that talks to Prefect, and it imports
Prefect lazily, so the builders are tested without it.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lvae.validate import PAPER_NUMBERS, results_table


@dataclass(frozen=True)
class Artifacts:
    """What one flow run publishes; keys are lowercase letters, digits and dashes (Prefect's rule)."""

    markdown: dict[str, str] = field(default_factory=dict)  # key -> Markdown
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key -> rows
    links: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (path or URL, text)
    descriptions: dict[str, str] = field(default_factory=dict)  # key -> one line shown on the artifact's card


def file_link(path: str | Path) -> str:
    """file:// URL of a local path (absolute)."""
    return Path(path).resolve().as_uri()


def inline_images(md: str, root: str | Path) -> str:
    """``md`` with every ``![alt](name.png)`` of a file in ``root`` embedded as a data: URI.

    The Prefect UI runs in a browser that cannot open file:// links of the machine that ran the flow; an
    embedded PNG is shown on the artifact's page as it is in report.md."""

    def embed(m: re.Match) -> str:
        path = Path(root) / m.group(2)
        if not path.is_file():
            return m.group(0)
        return f"![{m.group(1)}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"

    return re.sub(r"!\[([^\]]*)\]\(([^)\s/]+\.png)\)", embed, md)


def clean(x: Any, digits: int = 4) -> Any:
    """A JSON-safe table cell: floats rounded, NaN/inf as None."""
    if isinstance(x, float):
        return round(x, digits) if math.isfinite(x) else None
    return x


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: clean(v) for k, v in r.items()} for r in rows]


# --- ingest -------------------------------------------------------------------------------------------
def ingest_markdown(s) -> str:
    """Summary of an IngestSummary."""
    return "\n".join(
        [
            f"# Market data: {s.source}",
            "",
            f"- {len(s.tickers)} tickers, {s.days} trading days {s.first_day} to {s.last_day} "
            f"({s.bars} bars, {s.repaired_bars} repaired by forward-fill)",
            f"- data hash `{s.data_hash[:16]}` (sha256 of the aligned panel)",
            f"- bars kept in `{s.store}`",
            f"- tickers: {', '.join(s.tickers)}",
            "",
        ]
    )


# --- the LVAE build -----------------------------------------------------------------------------------
def split_rows(manifest: dict) -> list[dict[str, Any]]:
    """One row per split: samples and first/last window end date."""
    rows = []
    for split, n in manifest["split_counts"].items():
        lo, hi = manifest["split_dates"].get(split, ["", ""])
        rows.append({"split": split, "samples": n, "first": lo, "last": hi})
    return rows


def build_markdown(root: str, manifest: dict, cache_key: str, reused: bool, plots: dict[str, str]) -> str:
    """Summary of a pipeline build: data, splits, training, and where every file is."""
    paths = manifest["paths"]
    hist = manifest.get("train_history", {})
    cfg = manifest["config"]
    how = "reused from the cache (same data hash and config)" if reused else "fitted in this run"
    lines = [
        f"# LVAE build `{Path(root).name}`",
        "",
        f"Model {how}; cache key `{cache_key}`.",
        "",
        f"- data: {len(manifest['tickers'])} tickers {manifest['data_range'][0]} to {manifest['data_range'][1]}, "
        f"target {manifest['target']}, hash `{manifest['data_hash'][:16]}`",
        f"- LVAE: latent dims {cfg['latent_dims']}, hidden {cfg['hidden_dims']}, {cfg['epochs']} epochs "
        f"(warm-up {cfg['warmup_epochs']}); state = layers {cfg['encode_layers']} "
        f"({len(manifest['latent_columns'])} columns)",
    ]
    if "final_elbo" in hist:
        lines.append(
            f"- final ELBO: train {hist['final_elbo']:.2f}, validation {clean(hist.get('final_valid_elbo'), 2)}"
        )
    lines += ["", "| file | path |", "|---|---|"]
    lines += [f"| {name} | `{Path(root) / rel}` |" for name, rel in paths.items()]
    lines.append(f"| manifest | `{Path(root) / 'manifest.json'}` |")
    lines += [f"| {name} (plot) | `{path}` |" for name, path in plots.items()]
    lines += ["", *(f"![{name.replace('_', ' ')}]({Path(path).name})" for name, path in plots.items())]
    return inline_images("\n".join(lines) + "\n", root)


def build_artifacts(root: str, manifest: dict, cache_key: str, reused: bool, plots: dict[str, str]) -> Artifacts:
    links = {f"train-lvae-{name.replace('_', '-')}": (file_link(p), f"{name} plot") for name, p in plots.items()}
    links["train-lvae-model"] = (file_link(Path(root) / manifest["paths"]["model"]), "fitted LVAE (model.pt)")
    links["train-lvae-latents"] = (file_link(Path(root) / manifest["paths"]["latents"]), "latents.parquet")
    return Artifacts(
        markdown={"train-lvae-summary": build_markdown(root, manifest, cache_key, reused, plots)},
        tables={"train-lvae-splits": split_rows(manifest)},
        links=links,
        descriptions={
            "train-lvae-summary": "The build: data, LVAE, final ELBO, files, latent PCA plot",
            "train-lvae-splits": "Samples and dates of the train / valid / test splits",
        },
    )


# --- validation ---------------------------------------------------------------------------------------
FIGURES = ("learning_curves", "kl_per_layer", "latent_pca", "samples")


def validation_rows(results: dict[str, dict]) -> list[dict[str, Any]]:
    """Each (model, seed)'s test log-likelihood beside the paper's numbers for the data set (nats; higher is better)."""
    rows = [
        {
            "model": f"{r['model'].upper()} {r['layers']}-layer, seed {r['seed']}, {r['epochs']} epochs (this run)",
            "log_px_nats": clean(r["test_log_likelihood"], 2),
            "stderr": clean(r["test_log_likelihood_stderr"], 2),
            "iw_samples": r["iw_samples"],
            "source": "this run",
        }
        for r in results.values()
    ]
    dataset = next(iter(results.values()))["dataset"]
    for label, value in PAPER_NUMBERS.get(dataset, []):
        rows.append({"model": label, "log_px_nats": value, "stderr": None, "iw_samples": None, "source": "paper"})
    return rows


def validation_artifacts(results: dict[str, dict], out: str) -> Artifacts:
    """`results` as lvae.validate.run_validation returns them: {"<model>-s<seed>": results}."""
    figures = {(name, f): Path(out) / name / f"{f}.png" for name in results for f in FIGURES}
    files = "\n".join(f"- {name} {f}: `{p}`" for (name, f), p in figures.items() if p.is_file())
    comparison = Path(out) / "comparison.md"
    md = (comparison.read_text() + "\n" if comparison.is_file() else "") + "\n".join(
        results_table(r) for r in results.values()
    )
    md += f"\nFiles in `{out}/<model>-s<seed>/`: results.json, results.md, model.pt, log_likelihood.npy.\n"
    md += f"\nFigures:\n{files}\n"
    key = f"validate-lvae-{next(iter(results.values()))['dataset']}"
    return Artifacts(
        markdown={f"{key}-summary": md},
        tables={f"{key}-log-likelihood": validation_rows(results)},
        links={
            f"{key}-{name}-{f.replace('_', '-')}": (file_link(p), f"{name} {f}.png")
            for (name, f), p in figures.items()
            if p.is_file()
        },
    )


# --- backtest -----------------------------------------------------------------------------------------
BACKTEST_METRICS = ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "turnover", "costs_paid")


def backtest_rows(report: dict) -> list[dict[str, Any]]:
    """One row per policy: test-period metrics (mean over seeds), deflated Sharpe, validation Sharpe."""
    rows = []
    for name, row in report["rows"].items():
        r: dict[str, Any] = {"policy": name, "seeds": len(row["seeds"])}
        r.update({k: clean(row["metrics"][k]["mean"]) for k in BACKTEST_METRICS})
        r["deflated_sharpe"] = clean(row["deflated_sharpe"]["mean"])
        r["valid_sharpe"] = clean(row["valid_sharpe"])
        rows.append(r)
    return rows


def backtest_artifacts(report_root: str, report: dict, build_root: str) -> Artifacts:
    root = Path(report_root)
    md = inline_images((root / "report.md").read_text() if (root / "report.md").is_file() else "", root)
    md += f"\nReport: `{root / 'report.md'}`, `{root / 'report.json'}`; models in `{root / 'models'}`; "
    md += f"build `{build_root}`.\n"
    plots = {p: root / f"{p}.png" for p in ("equity", "drawdown", "positions")}
    return Artifacts(
        markdown={"backtest-summary": md},
        tables={"backtest-metrics": backtest_rows(report)},
        links={f"backtest-{p}": (file_link(path), f"{p}.png") for p, path in plots.items() if path.is_file()},
    )


# --- the walk-forward evaluation (envs.walkforward) ---------------------------------------------------
def walk_forward_eval_rows(doc: dict) -> list[dict[str, Any]]:
    """One row per configuration at the verdict's headline cost: stitched out-of-sample metrics over seeds."""
    cost = doc["verdict_settings"]["headline_cost_bps"]
    rows = []
    for r in (r for r in doc["summary"] if r["cost_bps"] == cost):
        rows.append({
            "config": r["config"], "cost_bps": cost, "seeds": r["seeds"], "folds": r["folds"], "days": r["n_days"],
            "sharpe": r["sharpe"], "sharpe_min": r["sharpe_min"], "sharpe_max": r["sharpe_max"],
            "annual_return": r["annual_return"], "max_drawdown": r["max_drawdown"], "turnover": r["turnover"],
        })  # fmt: skip
    return _rows(rows)


def walk_forward_eval_artifacts(root: str, doc: dict) -> Artifacts:
    """The verdict (its text and plots), the results table, and report.md with its plots embedded."""
    path = Path(root)
    report = (path / "report.md").read_text() if (path / "report.md").is_file() else ""
    head, *details = doc.get("verdict_text", []) or [""]
    plots = [f"![{name.replace('_', ' ')}]({name}.png)" for name in ("verdict_equity", "verdict_cost")]
    verdict = "\n\n".join(["# Verdict", head, *plots, *details, f"Full report: `{path / 'report.md'}`."]) + "\n"
    return Artifacts(
        markdown={
            "walk-forward-verdict": inline_images(verdict, path),
            "walk-forward-report": inline_images(report, path),
        },
        tables={"walk-forward-results": walk_forward_eval_rows(doc)},
        links={"walk-forward-folder": (file_link(path), "output folder (parquet, json, models, tensorboard)")},
        descriptions={
            "walk-forward-verdict": "What the numbers support: paired tests, SPA against buy-and-hold, seed spread",
            "walk-forward-results": "Out-of-sample metrics per configuration at the headline cost, over seeds",
            "walk-forward-report": "report.md with its plots",
            "walk-forward-folder": "Where the run's files are",
        },
    )


# --- publishing (the only Prefect calls) --------------------------------------------------------------
def publish(artifacts: Artifacts) -> None:
    """Create the artifacts in the current flow run."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    about = artifacts.descriptions
    for key, md in artifacts.markdown.items():
        create_markdown_artifact(markdown=md, key=key, description=about.get(key))
    for key, rows in artifacts.tables.items():
        create_table_artifact(table=_rows(rows), key=key, description=about.get(key))
    for key, (link, text) in artifacts.links.items():
        create_link_artifact(link=link, link_text=text, key=key, description=about.get(key))
