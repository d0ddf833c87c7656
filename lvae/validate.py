"""Validate the model on the paper's benchmarks: train (or resume), then score the test set as the paper does.

    python -m lvae.validate --dataset mnist --model lvae --layers 5 --epochs 200 --warmup-epochs 20 --out runs/v

Writes results.json, results.md (beside the paper's numbers) and the figures into --out.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from lvae import plots
from lvae.checkpoint import MODEL_CLASSES, save_model
from lvae.cli import ArgumentParser, run_cli
from lvae.config import MNIST_PAPER, LVAEConfig, TrainConfig
from lvae.datasets import ImageDataset, load_dataset
from lvae.evaluate import active_units, elbo_and_kl, iw_log_likelihood, recalibrate_batch_norm
from lvae.train import History, fit

DATASETS = ("mnist", "binarized-mnist", "omniglot", "norb")

# Test log-likelihoods reported for permutation-invariant MNIST and OMNIGLOT (nats; see PAPER.md).
PAPER_NUMBERS: dict[str, list[tuple[str, float]]] = {
    "mnist": [
        ("VAE 1-layer + NF", -85.10),
        ("IWAE 2-layer, IW=1", -85.33),
        ("IWAE 2-layer, IW=50", -82.90),
        ("VAE 2-layer + VGP", -81.90),
        ("LVAE 5-layer", -82.12),
        ("LVAE 5-layer + finetuning", -81.84),
        ("LVAE 5-layer + finetuning + IW=10", -81.74),
    ],
    "omniglot": [("LVAE 5-layer", -102.11)],
}
PAPER_NUMBERS["binarized-mnist"] = PAPER_NUMBERS["mnist"]


@dataclass(frozen=True)
class ValidateConfig:
    """One validation run on an image benchmark."""

    dataset: Literal["mnist", "binarized-mnist", "omniglot", "norb"] = "mnist"
    """Benchmark data set."""
    model: Literal["lvae", "vae"] = "lvae"
    """Ladder VAE or the bottom-up hierarchical VAE baseline."""
    layers: int = 5
    """Stochastic layers: the first N of the paper's 64-32-16-8-4 (MLP widths 512-256-128-64-32)."""
    epochs: int = 2000
    """Training epochs (the paper: 2000)."""
    warmup_epochs: int = 200
    """Epochs over which β rises from 0 to 1 (the paper: 200)."""
    batch_norm: bool = True
    """Batch normalisation on the deterministic layers."""
    iw_samples: int = 5000
    """Importance samples K of the test log-likelihood (the paper: 5000)."""
    iw_examples: int = 0
    """Test examples scored with the IW bound, a seeded random subset (0: all); other metrics use the whole test set."""
    limit: int = 0
    """Keep the first N examples of each split (0: all), for quick runs."""
    data_dir: str = ""
    """Directory with the data set's files (empty: LVAE_DATA_DIR or the download cache)."""
    seed: int = 0
    """Seed of initialisation, binarisation and sampling."""
    out: str = "runs/validate"
    """Output directory: checkpoints, model, results and figures."""
    threads: int = 0
    """torch threads (0: torch's default)."""

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.model not in MODEL_CLASSES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_CLASSES)}")
        if not 1 <= self.layers <= len(MNIST_PAPER.latent_dims):
            raise ValueError(f"layers must be 1..{len(MNIST_PAPER.latent_dims)}, got {self.layers}")
        if self.iw_samples < 1 or self.limit < 0 or self.iw_examples < 0:
            raise ValueError("iw_samples must be >= 1; limit and iw_examples >= 0")

    def model_config(self, ds: ImageDataset) -> LVAEConfig:
        return dataclasses.replace(
            MNIST_PAPER,
            input_dim=ds.train_x.shape[1],
            latent_dims=MNIST_PAPER.latent_dims[: self.layers],
            hidden_dims=MNIST_PAPER.hidden_dims[: self.layers],
            likelihood=ds.likelihood,
            batch_norm=self.batch_norm,
        )

    def train_config(self, ds: ImageDataset) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            warmup_epochs=self.warmup_epochs,
            dynamic_binarize=ds.dynamic_binarize,
            seed=self.seed,
            num_threads=self.threads,
        )


def run_validation(cfg: ValidateConfig, progress: bool = True) -> dict:
    """Train or resume, evaluate on the test set, write results.json, results.md and figures; return results."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset(cfg.dataset, data_dir=cfg.data_dir or None, limit=cfg.limit or None, seed=cfg.seed)
    torch.manual_seed(cfg.seed)  # the initial weights are part of what a seed reproduces
    model = MODEL_CLASSES[cfg.model](cfg.model_config(ds))
    train_cfg = cfg.train_config(ds)
    started = time.perf_counter()
    history = fit(
        model, ds.train_x, train_cfg, valid_x=ds.test_x, checkpoint_dir=out / "checkpoints", progress=progress
    )
    train_seconds = sum(history.seconds)
    recalibrate_batch_norm(model, ds.train_x, binarize=ds.dynamic_binarize, seed=cfg.seed)
    save_model(model, out / "model.pt")
    results = evaluate_model(model, ds, cfg, progress)
    results.update(
        dataset=cfg.dataset,
        model=cfg.model,
        layers=cfg.layers,
        epochs=history.epochs_done,
        warmup_epochs=cfg.warmup_epochs,
        batch_norm=cfg.batch_norm,
        seed=cfg.seed,
        train_examples=int(ds.train_x.shape[0]),
        test_examples=int(ds.test_x.shape[0]),
        train_seconds=round(train_seconds, 1),
        wall_seconds=round(time.perf_counter() - started, 1),
        skipped_steps=int(sum(history.skipped_steps)),
        config=dataclasses.asdict(cfg),
        torch=torch.__version__,
        machine=f"{platform.machine()} {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}",
    )
    _write_json(results, out / "results.json")
    (out / "results.md").write_text(results_table(results))
    _figures(model, ds, history, results, out)
    return results


def evaluate_model(model, ds: ImageDataset, cfg: ValidateConfig, progress: bool = True) -> dict:
    test_x = torch.as_tensor(ds.test_x)
    elbo, log_px, kl = elbo_and_kl(model, test_x)
    if cfg.iw_examples and cfg.iw_examples < len(test_x):
        # A seeded random subset: test sets can be ordered by class (OMNIGLOT by alphabet), so the first N are not
        # a fair sample of them.
        rows = np.sort(np.random.default_rng(cfg.seed).choice(len(test_x), cfg.iw_examples, replace=False))
        iw_x, subset = test_x[torch.as_tensor(rows)], f"random {cfg.iw_examples} of {len(test_x)} (seed {cfg.seed})"
    else:
        iw_x, subset = test_x, "all"
    ll = iw_log_likelihood(model, iw_x, cfg.iw_samples, progress=progress)
    # The ELBO of the same examples, so the bound's gap is read on one set.
    iw_elbo, _, _ = elbo_and_kl(model, iw_x)
    units = active_units(model, test_x)
    return {
        "test_log_likelihood": float(ll.mean()),
        "test_log_likelihood_stderr": float(ll.std() / np.sqrt(len(ll))),
        "iw_samples": cfg.iw_samples,
        "iw_examples": int(iw_x.shape[0]),
        "iw_subset": subset,
        "test_elbo": elbo,
        "test_elbo_iw_examples": iw_elbo,
        "test_reconstruction": log_px,
        "kl_per_layer": kl,
        "active_units": units,
        "latent_dims": list(model.config.latent_dims),
    }


def results_table(r: dict) -> str:
    name = f"{r['model'].upper()} {r['layers']}-layer (this run, {r['epochs']} epochs)"
    lines = [
        f"# {r['dataset']}: {name}",
        "",
        f"Test log-likelihood L{r['iw_samples']} on {r.get('iw_subset', r['iw_examples'])} test examples; ELBO on "
        f"{r['test_examples']}. Paper numbers from Sønderby et al. (2016) and the works it compares to.",
        "",
        "| model | log p(x) (nats) |",
        "|---|---|",
        f"| **{name}** | **{r['test_log_likelihood']:.2f}** ± {r['test_log_likelihood_stderr']:.2f} |",
    ]
    lines += [f"| {label} (paper) | {value:.2f} |" for label, value in PAPER_NUMBERS.get(r["dataset"], [])]
    kl = " / ".join(f"{k:.2f}" for k in r["kl_per_layer"])
    units = " / ".join(f"{a}/{d}" for a, d in zip(r["active_units"], r["latent_dims"], strict=True))
    lines += [
        "",
        f"- test ELBO: {r['test_elbo']:.2f} (reconstruction {r['test_reconstruction']:.2f})",
        f"- KL per layer z1..zL: {kl}",
        f"- active units per layer (Cov > 0.01): {units}",
        f"- training: {r['train_seconds']:.0f} s; skipped steps: {r['skipped_steps']}",
    ]
    if r["dataset"] == "omniglot":
        lines.append(
            "- OMNIGLOT here is built from the original background/evaluation zips resized to 28x28, not the "
            "IWAE 24,345/8,070 split the paper used: close to, not identical with, the paper's setting."
        )
    return "\n".join(lines) + "\n"


def _figures(model, ds: ImageDataset, history: History, results: dict, out: Path) -> None:
    plots.learning_curves(history, out / "learning_curves.png")
    plots.kl_per_layer(history, results["kl_per_layer"], out / "kl_per_layer.png")
    n = min(5000, ds.test_x.shape[0])
    latents = [z.numpy() for z in model.encode(torch.as_tensor(ds.test_x[:n]))]
    plots.latent_pca(latents, ds.test_y[:n], out / "latent_pca.png")
    x = torch.as_tensor(ds.test_x[:10])
    rows = [x.numpy(), model.reconstruct(x).numpy(), model.sample(10).numpy()]
    plots.image_grid(rows, ds.image_shape, ["test", "reconstruction", "samples"], out / "samples.png")


def _write_json(obj: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> ValidateConfig:
    defaults = ValidateConfig()
    p = ArgumentParser(prog="python -m lvae.validate", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    p.add_argument("--model", choices=tuple(MODEL_CLASSES), default=defaults.model)
    p.add_argument("--layers", type=int, default=defaults.layers, help="stochastic layers (1-5)")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs)
    p.add_argument("--no-batch-norm", action="store_true", help="switch batch normalisation off")
    p.add_argument("--iw-samples", type=int, default=defaults.iw_samples, help="importance samples K")
    p.add_argument("--iw-examples", type=int, default=defaults.iw_examples, help="test examples for IW (0: all)")
    p.add_argument("--limit", type=int, default=defaults.limit, help="examples per split (0: all)")
    p.add_argument("--data-dir", default=defaults.data_dir, help="local data directory")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: default)")
    p.add_argument("--out", default=defaults.out, help="output directory")
    a = p.parse_args(argv)
    try:
        return ValidateConfig(
            dataset=a.dataset,
            model=a.model,
            layers=a.layers,
            epochs=a.epochs,
            warmup_epochs=a.warmup_epochs,
            batch_norm=not a.no_batch_norm,
            iw_samples=a.iw_samples,
            iw_examples=a.iw_examples,
            limit=a.limit,
            data_dir=a.data_dir,
            seed=a.seed,
            out=a.out,
            threads=a.threads,
        )
    except ValueError as e:
        p.error(str(e))


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    results = run_validation(cfg)
    print(results_table(results))
    print(f"results: {Path(cfg.out) / 'results.json'}; figures and model in {cfg.out}/")


if __name__ == "__main__":
    run_cli(main)
