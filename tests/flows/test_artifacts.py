"""Artifact builders: pure functions from library outputs to Markdown, table rows and links (no Prefect)."""

from __future__ import annotations

import json

from flows import artifacts
from lvae.validate import PAPER_NUMBERS

RESULTS = {
    "dataset": "mnist", "model": "lvae", "seed": 0, "layers": 5, "epochs": 100, "iw_samples": 5000, "iw_examples": 1000,
    "test_examples": 10000, "test_log_likelihood": -85.4321, "test_log_likelihood_stderr": 0.456,
    "test_elbo": -88.0, "test_reconstruction": -60.0, "kl_per_layer": [20.0, 5.0, 2.0, 1.0, 0.0],
    "active_units": [20, 8, 4, 2, 0], "latent_dims": [64, 32, 16, 8, 4], "train_seconds": 100.0,
    "skipped_steps": 0,
}  # fmt: skip
MANIFEST = {
    "config": {"latent_dims": [4, 2], "hidden_dims": [16, 8], "epochs": 2, "warmup_epochs": 1,
               "encode_layers": [0, 1]},
    "tickers": ["AAPL", "DIA"], "target": "DIA", "data_range": ["2016-01-04", "2021-12-31"],
    "data_hash": "f" * 64, "latent_columns": ["z0_0", "z0_1", "z1_0"],
    "split_counts": {"train": 700, "valid": 200, "test": 400, "purged": 50},
    "split_dates": {"train": ["2016-02-01", "2018-12-31"], "valid": ["2019-02-08", "2019-12-31"],
                    "test": ["2020-02-07", "2021-12-31"]},
    "paths": {"latents": "latents.parquet", "model": "model.pt"},
    "train_history": {"final_elbo": -1234.5, "final_valid_elbo": float("nan")},
}  # fmt: skip


def test_validation_rows_put_this_run_beside_the_papers_numbers():
    rows = artifacts.validation_rows({"lvae-s0": RESULTS})
    assert rows[0] == {"model": "LVAE 5-layer, seed 0, 100 epochs (this run)", "log_px_nats": -85.43,
                       "stderr": 0.46, "iw_samples": 5000, "source": "this run"}  # fmt: skip
    assert [(r["model"], r["log_px_nats"]) for r in rows[1:]] == PAPER_NUMBERS["mnist"]
    assert ("LVAE 5-layer", -82.12) in [(r["model"], r["log_px_nats"]) for r in rows]
    norb = artifacts.validation_rows({"lvae-s0": {**RESULTS, "dataset": "norb"}})
    assert len(norb) == 1  # the paper reports no NORB log-likelihood


def test_validation_artifacts_link_only_existing_figures(tmp_path):
    (tmp_path / "lvae-s0").mkdir()
    (tmp_path / "lvae-s0" / "latent_pca.png").write_bytes(b"png")
    (tmp_path / "comparison.md").write_text("# LVAE − VAE, L5000\n")
    vae = {**RESULTS, "model": "vae", "test_log_likelihood": -86.0}
    a = artifacts.validation_artifacts({"lvae-s0": RESULTS, "vae-s0": vae}, str(tmp_path))
    assert list(a.links) == ["validate-lvae-mnist-lvae-s0-latent-pca"]
    assert a.links["validate-lvae-mnist-lvae-s0-latent-pca"][0] == (tmp_path / "lvae-s0/latent_pca.png").as_uri()
    md = a.markdown["validate-lvae-mnist-summary"]
    assert md.startswith("# LVAE − VAE, L5000")
    assert "**-85.43** ± 0.46" in md and "**-86.00**" in md and "LVAE 5-layer (paper) | -82.12" in md
    rows = a.tables["validate-lvae-mnist-log-likelihood"]
    assert [r["log_px_nats"] for r in rows[:2]] == [-85.43, -86.0] and rows[2]["source"] == "paper"


def test_build_artifacts_name_every_file_and_the_cache():
    a = artifacts.build_artifacts("/runs/b1", MANIFEST, "train-lvae-abc", True, {"latent_pca": "/runs/b1/p.png"})
    assert a.tables["train-lvae-splits"] == [
        {"split": "train", "samples": 700, "first": "2016-02-01", "last": "2018-12-31"},
        {"split": "valid", "samples": 200, "first": "2019-02-08", "last": "2019-12-31"},
        {"split": "test", "samples": 400, "first": "2020-02-07", "last": "2021-12-31"},
        {"split": "purged", "samples": 50, "first": "", "last": ""},
    ]
    md = a.markdown["train-lvae-summary"]
    assert "reused from the cache" in md and "`train-lvae-abc`" in md
    assert "| model | `/runs/b1/model.pt` |" in md and "| latent_pca (plot) | `/runs/b1/p.png` |" in md
    assert "validation None" in md  # a NaN is shown as missing, not as nan
    assert set(a.links) == {"train-lvae-latent-pca", "train-lvae-model", "train-lvae-latents"}
    assert a.links["train-lvae-model"][0] == "file:///runs/b1/model.pt"


def test_table_cells_are_json_safe():
    assert artifacts.clean(float("nan")) is None and artifacts.clean(float("inf")) is None
    assert artifacts.clean(1.23456789) == 1.2346 and artifacts.clean("x") == "x" and artifacts.clean(3) == 3
    rows = artifacts._rows([{"a": float("nan"), "b": 0.5}])
    assert json.loads(json.dumps(rows, allow_nan=False)) == [{"a": None, "b": 0.5}]


def test_backtest_rows_take_the_mean_over_seeds():
    def metric(mean):
        return {"mean": mean, "ci": [mean, mean], "per_seed": [mean]}

    keys = artifacts.BACKTEST_METRICS
    report = {"rows": {
        "ppo/lvae": {"seeds": [0, 1], "metrics": {k: metric(0.1) for k in keys},
                     "deflated_sharpe": {"mean": 0.3}, "valid_sharpe": 0.7},
        "cash": {"seeds": [0], "metrics": {k: metric(float("nan")) for k in keys},
                 "deflated_sharpe": {"mean": None}, "valid_sharpe": None},
    }}  # fmt: skip
    rows = artifacts.backtest_rows(report)
    assert rows[0] == {"policy": "ppo/lvae", "seeds": 2, **{k: 0.1 for k in keys}, "deflated_sharpe": 0.3,
                       "valid_sharpe": 0.7}  # fmt: skip
    assert rows[1]["sharpe"] is None and rows[1]["deflated_sharpe"] is None


def test_plots_are_embedded_so_the_browser_shows_them(tmp_path):
    import base64

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    (tmp_path / "equity.png").write_bytes(png)
    md = "# R\n\n![equity](equity.png)\n![gone](missing.png)\n![abs](/etc/x.png)\n"
    out = artifacts.inline_images(md, tmp_path)
    assert f"![equity](data:image/png;base64,{base64.b64encode(png).decode()})" in out
    assert "![gone](missing.png)" in out and "![abs](/etc/x.png)" in out  # only files of the folder itself


def test_walk_forward_results_table_is_the_verdicts_headline_cost():
    summary = [
        {"config": c, "cost_bps": cost, "seeds": 2, "folds": 3, "n_days": 756, "sharpe": s, "sharpe_min": s - 0.1,
         "sharpe_max": s + 0.1, "annual_return": 0.05, "max_drawdown": -0.2, "turnover": 12.0}
        for c, s in (("ppo/lvae", 0.41234), ("buy_and_hold", float("nan"))) for cost in (0.0, 5.0)
    ]  # fmt: skip
    rows = artifacts.walk_forward_eval_rows({"summary": summary, "verdict_settings": {"headline_cost_bps": 5.0}})
    assert [(r["config"], r["cost_bps"]) for r in rows] == [("ppo/lvae", 5.0), ("buy_and_hold", 5.0)]
    assert rows[0]["sharpe"] == 0.4123 and rows[1]["sharpe"] is None  # rounded; NaN as an empty cell
