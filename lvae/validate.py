"""Validate the model on the paper's benchmarks: train (or resume), then score the test set as the paper does.

    python -m lvae.validate --dataset mnist --models lvae vae --seeds 0 1 --epochs 2000 --warmup-epochs 200

On a GPU the models and seeds of a run train together, each step replayed from one CUDA graph
(`lvae.train.fit_group`); on a CPU the same code runs the step eagerly. Every (model, seed) writes
`<out>/<model>-s<seed>/`: results.json, results.md (beside the paper's numbers), model.pt, log_likelihood.npy
(the per-example L_K of the whole test set) and figures. With both models, `<out>/comparison.json` and
`comparison.md` hold the LVAE−VAE difference with its paired standard error over the same test images, per seed
pair and across seeds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from lvae.checkpoint import MODEL_CLASSES, save_model
from lvae.cli import ArgumentParser, run_cli
from lvae.config import MNIST_PAPER, ORIGINAL_MODEL, ORIGINAL_TRAIN, LVAEConfig, TrainConfig
from lvae.datasets import ImageDataset, load_dataset
from lvae.evaluate import active_units, elbo_and_kl, iw_log_likelihood, paired_difference, recalibrate_batch_norm
from lvae.model import HierarchicalModel
from lvae.train import History, fit_group, resolve_device

DATASETS = ("mnist", "binarized-mnist", "omniglot", "norb")
PRESETS = ("paper", "original")

# Test log-likelihoods reported for permutation-invariant MNIST and OMNIGLOT (nats; the paper, Tables 1-2).
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
    """One validation run on an image benchmark: one or both models, one or more seeds, the same test images."""

    dataset: Literal["mnist", "binarized-mnist", "omniglot", "norb"] = "mnist"
    """Benchmark data set."""
    models: tuple[str, ...] = ("lvae",)
    """Models to train: 'lvae', 'vae' (the bottom-up hierarchical VAE) or both."""
    seeds: tuple[int, ...] = (0,)
    """Seeds of initialisation, training data stream and noise; one run per (model, seed)."""
    layers: int = 5
    """Stochastic layers: the first N of the paper's 64-32-16-8-4 (MLP widths 512-256-128-64-32)."""
    epochs: int = 2000
    """Training epochs (the paper: 2000)."""
    warmup_epochs: int = 200
    """Epochs over which β rises from 0 to 1 (the paper: 200)."""
    preset: Literal["paper", "original"] = "paper"
    """'paper': the paper's model with PyTorch defaults where it is silent (lr 1e-3, norm clip 100, batch norm in
    the MLPs); 'original': the original code's choices (batch norm on the Gaussian heads, Glorot-normal weights,
    the Bernoulli mean clipped to [1e-5, 1 − 1e-5], lr 2e-3, norm clip 4 then ±0.9 per element)."""
    lr: float = 0.0
    """Adam learning rate of the main stage (0: the preset's, 1e-3 'paper' and 2e-3 'original'; the paper does not
    state one, and the original code's README commands use 2e-4). The finetuning stage starts from it."""
    kl: Literal["analytic", "sample"] = "sample"
    """KL estimator of the training ELBO; a comparison of LVAE and VAE needs 'sample' (the VAE has no closed form
    below its top layer; the original code sampled at every layer)."""
    batch_norm: bool = True
    """Batch normalisation on the deterministic layers."""
    finetune_epochs: int = 0
    """A finetuning stage after the main run: this many more epochs at β = 1, fresh Adam, decaying learning rate."""
    finetune_lr_decay: float = 0.99
    """Per-epoch learning-rate factor of the finetuning stage."""
    iw_train: int = 1
    """Importance samples of the finetuning stage's training bound (the paper's '+ IW=10': 10)."""
    iw_samples: int = 5000
    """Importance samples K of the test log-likelihood (the paper: 5000)."""
    iw_examples: int = 0
    """Test examples scored with the IW bound, a seeded random subset (0: all, the default); other metrics use all."""
    limit: int = 0
    """Keep the first N examples of each split (0: all), for quick runs."""
    omniglot_split: Literal["drawer", "alphabet"] = "drawer"
    """OMNIGLOT: 'drawer' (all 50 alphabets in train and test, drawers 1-15 / 16-20, the paper's setting) or
    'alphabet' (background alphabets train, evaluation alphabets test)."""
    data_dir: str = ""
    """Directory with the data set's files (empty: LVAE_DATA_DIR or the download cache)."""
    data_seed: int = 0
    """Seed of the one-time test-set binarisation: one test set for every model and seed, so differences pair."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu' or 'cuda'."""
    graph: bool = True
    """On CUDA, replay each training step from a CUDA graph (off: eager steps, for debugging)."""
    compile: bool = False
    """Run the training step's forward pass and loss through torch.compile (`lvae.train.fit_group`): the same
    arithmetic up to rounding, fewer kernels; a compilation per model first."""
    checkpoint_every: int = 10
    """Epochs between checkpoints (and at the end); a rerun with the same --out resumes."""
    figures: bool = True
    """Write the figures (matplotlib)."""
    tensorboard: bool = True
    """Log each epoch to TensorBoard under <out>/<model>-s<seed>/tensorboard (`tensorboard --logdir <out>`)."""
    out: str = "runs/validate"
    """Output directory."""
    threads: int = 0
    """torch threads (0: torch's default)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if (
            not self.models
            or any(m not in MODEL_CLASSES for m in self.models)
            or len(set(self.models)) < len(self.models)
        ):
            raise ValueError(f"models must be distinct names among {', '.join(MODEL_CLASSES)}, got {self.models}")
        if not self.seeds or len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        if not 1 <= self.layers <= len(MNIST_PAPER.latent_dims):
            raise ValueError(f"layers must be 1..{len(MNIST_PAPER.latent_dims)}, got {self.layers}")
        if self.iw_samples < 1 or self.limit < 0 or self.iw_examples < 0 or self.iw_train < 1:
            raise ValueError("iw_samples and iw_train must be >= 1; limit and iw_examples >= 0")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.kl == "analytic" and "vae" in self.models and "lvae" in self.models:
            raise ValueError("comparing LVAE and VAE needs the same KL estimator for both: use kl='sample'")
        if self.finetune_epochs < 0 or not 0 < self.finetune_lr_decay <= 1:
            raise ValueError("finetune_epochs must be >= 0 and finetune_lr_decay in (0, 1]")
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be > 0 (or 0 for the preset's), got {self.lr}")
        self.train_config(None)  # the training settings' own checks (epochs, device), before anything is written

    def model_config(self, ds: ImageDataset) -> LVAEConfig:
        base = ORIGINAL_MODEL if self.preset == "original" else MNIST_PAPER
        return dataclasses.replace(
            base,
            input_dim=ds.train_x.shape[1],
            latent_dims=MNIST_PAPER.latent_dims[: self.layers],
            hidden_dims=MNIST_PAPER.hidden_dims[: self.layers],
            likelihood=ds.likelihood,
            batch_norm=self.batch_norm,
            kl=self.kl,
        )

    def train_config(self, ds: ImageDataset | None) -> TrainConfig:
        """The main stage's training settings (``ds`` None: the data's own, binarisation, left at the preset's)."""
        base = ORIGINAL_TRAIN if self.preset == "original" else TrainConfig()
        return dataclasses.replace(
            base,
            epochs=self.epochs,
            warmup_epochs=self.warmup_epochs,
            lr=self.lr or base.lr,
            dynamic_binarize=ds.dynamic_binarize if ds is not None else base.dynamic_binarize,
            num_threads=self.threads,
            device=self.device,
        )

    def finetune_config(self, ds: ImageDataset) -> TrainConfig:
        return dataclasses.replace(
            self.train_config(ds),
            epochs=self.finetune_epochs,
            warmup_epochs=0,
            lr_decay=self.finetune_lr_decay,
            iw_train=self.iw_train,
        )

    def load_data(self) -> ImageDataset:
        """The data set, its test set binarised once with ``data_seed`` (downloaded with checksums if absent)."""
        return load_dataset(
            self.dataset,
            data_dir=self.data_dir or None,
            limit=self.limit or None,
            seed=self.data_seed,
            omniglot_split=self.omniglot_split,
        )

    def runs(self) -> list[tuple[str, int]]:
        """(model, seed) pairs, in training order."""
        return [(m, s) for m in self.models for s in self.seeds]


def stage_seed(seed: int, stage: int) -> int:
    """The seed of the random streams (binarisation, order, latent noise) of training stage `stage` of run `seed`
    (0: the main stage, `seed` itself; 1: the finetuning stage, its own streams, not a replay of the main stage's
    first epochs)."""
    if stage == 0:
        return seed
    return int(np.random.SeedSequence([seed, stage]).generate_state(1, np.uint64)[0] >> 1)


def run_validation(cfg: ValidateConfig, progress: bool = True, stop_after_seconds: float | None = None) -> dict:
    """Train or resume every (model, seed), score them on one test set, write results; return {name: results}.

    With `stop_after_seconds`, training (both stages) stops at the first epoch boundary after that many seconds,
    every checkpoint written; when that leaves training unfinished nothing is scored and the result is {}: the
    same call again resumes where it stopped.
    """
    device = resolve_device(cfg.device)
    ds = cfg.load_data()  # bad data fails here, before anything is written
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"{m}-s{s}" for m, s in cfg.runs()]
    models: list[HierarchicalModel] = []
    for kind, seed in cfg.runs():
        torch.manual_seed(seed)  # the initial weights are part of what a seed reproduces
        models.append(MODEL_CLASSES[kind](cfg.model_config(ds)))
    seeds = [s for _, s in cfg.runs()]

    def train(stage: TrainConfig, suffix: str, budget: float | None, index: int) -> list[History]:
        return fit_group(
            models,
            ds.train_x,
            stage,
            [stage_seed(s, index) for s in seeds],
            valid_x=ds.test_x,
            checkpoint_dirs=[out / n / f"checkpoints{suffix}" for n in names],
            checkpoint_every=cfg.checkpoint_every,
            graph=cfg.graph and device.type == "cuda",
            compile=cfg.compile,
            progress=progress,
            log_dirs=[out / n / f"tensorboard{suffix}" for n in names] if cfg.tensorboard else None,
            stop_after_seconds=budget,
        )

    started = time.perf_counter()
    histories = train(cfg.train_config(ds), "", stop_after_seconds, 0)
    if histories[0].epochs_done < cfg.epochs:
        return {}
    finetune = None
    if cfg.finetune_epochs:
        left = None if stop_after_seconds is None else stop_after_seconds - (time.perf_counter() - started)
        if left is not None and left <= 0:
            return {}  # the main stage ended on the budget: the finetuning stage starts on the next call
        finetune = train(cfg.finetune_config(ds), "-finetune", left, 1)
        if finetune[0].epochs_done < cfg.finetune_epochs:
            return {}
    train_seconds = time.perf_counter() - started
    rows = iw_rows(cfg, len(ds.test_x))
    steps = ds.train_x.shape[0] // cfg.train_config(ds).batch_size
    everything: dict[str, dict] = {}
    per_image: dict[str, dict[int, np.ndarray]] = {"lvae": {}, "vae": {}}
    for i, ((kind, seed), name, model) in enumerate(zip(cfg.runs(), names, models, strict=True)):
        folder = out / name
        recalibrate_batch_norm(model, ds.train_x, binarize=ds.dynamic_binarize, seed=seed)
        save_model(model, folder / "model.pt")
        results, ll = evaluate_model(model, ds, cfg, rows, progress)
        per_image[kind][seed] = ll.numpy().astype(np.float32)
        np.save(folder / "log_likelihood.npy", per_image[kind][seed])
        history = histories[i]
        timing = {"main": stage_timing(history.seconds, len(models), steps)}
        if finetune:
            timing["finetune"] = stage_timing(finetune[i].seconds, len(models), steps)
        results.update(
            dataset=cfg.dataset,
            model=kind,
            seed=seed,
            layers=cfg.layers,
            epochs=history.epochs_done,
            warmup_epochs=cfg.warmup_epochs,
            finetune_epochs=finetune[i].epochs_done if finetune else 0,
            iw_train=cfg.iw_train if cfg.finetune_epochs else 1,
            preset=cfg.preset,
            kl=cfg.kl,
            batch_norm=cfg.batch_norm,
            train_examples=int(ds.train_x.shape[0]),
            test_examples=int(ds.test_x.shape[0]),
            group_size=len(models),
            # The group trains together: its wall time is shared by all its models. train_seconds is this call's;
            # stage_timing sums every call that trained a stage, so a resumed run tells its whole training time.
            train_seconds=round(train_seconds, 1),
            ms_per_group_step=timing["main"]["ms_per_group_step"],
            stage_timing=timing,
            skipped_steps=int(sum(history.skipped_steps) + (sum(finetune[i].skipped_steps) if finetune else 0)),
            config=dataclasses.asdict(cfg),
            torch=torch.__version__,
            device=_device_name(device),
            machine=f"{platform.machine()} {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}",
        )
        _write_json(results, folder / "results.json")
        (folder / "results.md").write_text(results_table(results))
        stages = {
            "main": dataclasses.asdict(history),
            "finetune": dataclasses.asdict(finetune[i]) if finetune else None,
        }
        _write_json(stages, folder / "history.json")
        if cfg.figures:
            _figures(model, ds, history, results, folder)
        everything[name] = results
    if {"lvae", "vae"} <= set(cfg.models):
        comparison = compare_runs(per_image["lvae"], per_image["vae"], f"L{cfg.iw_samples} test log-likelihood (nats)")
        _write_json(comparison, out / "comparison.json")
        (out / "comparison.md").write_text(comparison_table(comparison, everything))
    return everything


def random_rows(n: int, k: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random ``k`` of ``n`` examples; all of them when ``k`` is 0 or at least ``n``.
    Data sets can be ordered by class (OMNIGLOT's by alphabet), so the first k are not a fair sample."""
    if k and k < n:
        return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))
    return np.arange(n)


def iw_rows(cfg: ValidateConfig, n: int) -> np.ndarray:
    """Indices of the test images scored with the IW bound: all, or the run's seeded random subset."""
    return random_rows(n, cfg.iw_examples, cfg.data_seed)


def stage_timing(seconds: list[float], group_size: int, steps_per_epoch: int) -> dict[str, float]:
    """One training stage's time from one model's per-epoch ``History.seconds``: ``seconds``, the group's
    training time over every call that trained the stage (a resumed stage included), and ``ms_per_group_step``
    of its median epoch. Each model's history holds its share of the group's epoch time, so a group epoch
    costs ``group_size`` times it."""
    if not seconds:
        return {"seconds": 0.0, "ms_per_group_step": math.nan}
    return {
        "seconds": round(sum(seconds) * group_size, 3),
        "ms_per_group_step": round(float(np.median(seconds)) * group_size / max(1, steps_per_epoch) * 1e3, 3),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()})"


def evaluate_model(
    model: HierarchicalModel, ds: ImageDataset, cfg: ValidateConfig, rows: np.ndarray, progress: bool = True
) -> tuple[dict, torch.Tensor]:
    """Test metrics as the paper reports them, and the per-example log-likelihoods (on `rows` of the test set)."""
    test_x = torch.as_tensor(ds.test_x)
    elbo, log_px, kl = elbo_and_kl(model, test_x)
    iw_x = test_x[torch.as_tensor(rows)]
    subset = "all" if len(rows) == len(test_x) else f"random {len(rows)} of {len(test_x)} (seed {cfg.data_seed})"
    ll = iw_log_likelihood(model, iw_x, cfg.iw_samples, progress=progress)
    # the ELBO of the same examples, so the bound's gap is read on one set (the whole test set: the one above)
    iw_elbo = elbo if subset == "all" else elbo_and_kl(model, iw_x)[0]
    units = active_units(model, test_x)
    results = {
        "test_log_likelihood": float(ll.double().mean()),
        "test_log_likelihood_stderr": float(ll.double().std() / np.sqrt(len(ll))),
        "iw_samples": cfg.iw_samples,
        "iw_examples": len(rows),
        "iw_subset": subset,
        "test_elbo": elbo,
        "test_elbo_iw_examples": iw_elbo,
        "test_reconstruction": log_px,
        "kl_per_layer": kl,
        "active_units": units,
        "latent_dims": list(model.config.latent_dims),
    }
    return results, ll


def compare_runs(lvae: dict[int, np.ndarray], vae: dict[int, np.ndarray], metric: str, alpha: float = 0.05) -> dict:
    """LVAE − VAE: per seed pair (seed i of each, paired over the same images) and across the pairs.

    Two sources of noise: training (the spread of the pairs' mean differences, a standard error over n seeds with
    n − 1 degrees of freedom) and the test set's sampling (the paired standard error of the seed-averaged
    per-image differences: every seed is scored on the same images, so the pairs' image noise is shared, not
    independent). Their quadrature sum is the standard error of the mean difference; it counts as significant
    when |t| exceeds Student's t quantile with n − 1 degrees of freedom (two-sided, `alpha`). One seed pair cannot
    separate training noise from a real difference: then there is no test, only the per-image standard error.
    """
    from scipy import stats

    seeds = sorted(set(lvae) & set(vae))
    if not seeds:
        raise ValueError("no seed has both an LVAE and a VAE run")
    diffs = np.stack([np.asarray(lvae[s], np.float64) - np.asarray(vae[s], np.float64) for s in seeds])  # (n, I)
    pairs = []
    for s in seeds:
        mean_d, se_d = paired_difference(lvae[s], vae[s])
        pairs.append({"seed": s, "lvae": float(np.mean(lvae[s])), "vae": float(np.mean(vae[s])), "diff": mean_d,
                      "paired_se": se_d})  # fmt: skip
    n = len(seeds)
    per_seed = diffs.mean(axis=1)
    mean = float(per_seed.mean())
    _, image_se = paired_difference(diffs.mean(axis=0), np.zeros(diffs.shape[1]))
    seed_se = se = t_crit = p_value = math.nan
    if n >= 2:
        seed_se = float(per_seed.std(ddof=1) / math.sqrt(n))
        se = math.hypot(seed_se, image_se)
        t_crit = float(stats.t.ppf(1 - alpha / 2, n - 1))
        p_value = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    significant = n >= 2 and abs(mean) > t_crit * se
    return {
        "metric": metric,
        "pairs": pairs,
        "mean_diff": mean,
        "paired_se_over_images": image_se,
        "se_over_seeds": seed_se,
        "se": se,
        "t_critical": t_crit,
        "p_value": p_value,
        "alpha": alpha,
        "n_seeds": n,
        "lvae_better_significant": bool(significant and mean > 0),
        "vae_better_significant": bool(significant and mean < 0),
    }


def comparison_verdict(c: dict) -> str:
    """The comparison in words: what its test supports, and nothing more."""
    if c["n_seeds"] < 2:
        return "one seed pair: training noise cannot be separated from a difference, so no test"
    level = f"{1 - c['alpha']:.0%}"
    if c["lvae_better_significant"]:
        return f"the LVAE is better (t-test over seeds, p = {c['p_value']:.3f}, {level} level)"
    if c["vae_better_significant"]:
        return f"the VAE is better (t-test over seeds, p = {c['p_value']:.3f}, {level} level)"
    return f"no significant difference (t-test over {c['n_seeds']} seeds, p = {c['p_value']:.2f})"


def comparison_table(c: dict, results: dict[str, dict]) -> str:
    lines = [
        f"# LVAE − VAE, {c['metric']}",
        "",
        "| seed | LVAE | VAE | LVAE − VAE | paired s.e. (images) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {p['seed']} | {p['lvae']:.2f} | {p['vae']:.2f} | {p['diff']:+.2f} | {p['paired_se']:.2f} |"
        for p in c["pairs"]
    ]
    seeds = "n/a (one seed)" if c["n_seeds"] < 2 else f"{c['se_over_seeds']:.2f}"
    lines += [
        "",
        f"Mean over {c['n_seeds']} seed pair{'s' if c['n_seeds'] != 1 else ''}: {c['mean_diff']:+.2f} nats; s.e. "
        f"over images {c['paired_se_over_images']:.2f}, over seeds {seeds}: {comparison_verdict(c)}.",
    ]
    return "\n".join(lines) + "\n"


def _training_time(r: dict) -> str:
    timing = r.get("stage_timing")
    if not timing:
        return f"{r['train_seconds']:.0f} s"
    return " + ".join(
        f"{t['seconds'] / 60:.1f} min ({stage}, {t['ms_per_group_step']:.1f} ms per group step)"
        for stage, t in timing.items()
    )


def results_table(r: dict) -> str:
    stage = f", + {r['finetune_epochs']} finetuning" if r.get("finetune_epochs") else ""
    name = f"{r['model'].upper()} {r['layers']}-layer (this run, seed {r['seed']}, {r['epochs']} epochs{stage})"
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
        f"- training: {_training_time(r)} for a group of {r.get('group_size', 1)} on {r.get('device', '?')}; "
        f"skipped steps: {r['skipped_steps']}",
    ]
    if r["dataset"] == "omniglot":
        split = r.get("config", {}).get("omniglot_split", "drawer")
        lines.append(
            "- OMNIGLOT from the official zips resized to 28x28, split "
            + (
                "by drawer (all 50 alphabets in both sets), the paper's setting"
                if split == "drawer"
                else "by alphabet (test alphabets unseen in training), NOT the paper's setting"
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def figure_rows(n: int, k: int = 5000, seed: int = 0) -> np.ndarray:
    """The test images of the latent PCA figure: a seeded random ``k`` of ``n`` (all when n <= k). Not the first
    k: OMNIGLOT's test set is sorted by alphabet, and its first 5,000 hold 31 of the 50."""
    return random_rows(n, k, seed)


def _figures(model, ds: ImageDataset, history: History, results: dict, out: Path) -> None:
    from lvae import plots  # matplotlib only when figures are asked for

    plots.learning_curves(history, out / "learning_curves.png")
    plots.kl_per_layer(history, results["kl_per_layer"], out / "kl_per_layer.png")
    rows = figure_rows(ds.test_x.shape[0])
    # one seeded draw z ~ q(z | x), as the paper's Figure 6 plots, from the model's device; the random state of
    # that device is left as it was
    cuda = next(model.parameters()).is_cuda
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        torch.manual_seed(0)
        latents = [z.cpu().numpy() for z in model.encode(torch.as_tensor(ds.test_x[rows]), sample=True)]
    plots.latent_pca(latents, ds.test_y[rows], out / "latent_pca.png", what="samples z ~ q(z|x)")
    x = torch.as_tensor(ds.test_x[:10])
    rows = [x.numpy(), model.reconstruct(x).cpu().numpy(), model.sample(10).cpu().numpy()]
    plots.image_grid(rows, ds.image_shape, ["test", "reconstruction", "samples"], out / "samples.png")


def _write_json(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> ValidateConfig:
    d = ValidateConfig()
    p = ArgumentParser(prog="python -m lvae.validate", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    p.add_argument("--models", "--model", nargs="+", choices=tuple(MODEL_CLASSES), default=list(d.models))
    p.add_argument("--seeds", "--seed", nargs="+", type=int, default=list(d.seeds))
    p.add_argument("--layers", type=int, default=d.layers, help="stochastic layers (1-5)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    p.add_argument("--preset", choices=PRESETS, default=d.preset, help="paper defaults or the original code's")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (default: the preset's)")
    p.add_argument("--kl", choices=("analytic", "sample"), default=d.kl, help="KL estimator of the training ELBO")
    p.add_argument("--no-batch-norm", action="store_true", help="switch batch normalisation off")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs, help="finetuning stage (β = 1)")
    p.add_argument("--finetune-lr-decay", type=float, default=d.finetune_lr_decay)
    p.add_argument("--iw-train", type=int, default=d.iw_train, help="IW samples of the finetuning bound")
    p.add_argument("--iw-samples", type=int, default=d.iw_samples, help="importance samples K")
    p.add_argument("--iw-examples", type=int, default=d.iw_examples, help="test examples for IW (0: all)")
    p.add_argument("--limit", type=int, default=d.limit, help="examples per split (0: all)")
    p.add_argument("--omniglot-split", choices=("drawer", "alphabet"), default=d.omniglot_split)
    p.add_argument("--data-dir", default=d.data_dir, help="local data directory")
    p.add_argument("--data-seed", type=int, default=d.data_seed, help="seed of the test-set binarisation")
    p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
    p.add_argument("--no-graph", action="store_true", help="eager steps on CUDA (no CUDA graph)")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step's forward and loss")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0: default)")
    p.add_argument("--out", default=d.out, help="output directory")
    a = p.parse_args(argv)
    try:
        return ValidateConfig(
            dataset=a.dataset,
            models=tuple(a.models),
            seeds=tuple(a.seeds),
            layers=a.layers,
            epochs=a.epochs,
            warmup_epochs=a.warmup_epochs,
            preset=a.preset,
            lr=a.lr,
            kl=a.kl,
            batch_norm=not a.no_batch_norm,
            finetune_epochs=a.finetune_epochs,
            finetune_lr_decay=a.finetune_lr_decay,
            iw_train=a.iw_train,
            iw_samples=a.iw_samples,
            iw_examples=a.iw_examples,
            limit=a.limit,
            omniglot_split=a.omniglot_split,
            data_dir=a.data_dir,
            data_seed=a.data_seed,
            device=a.device,
            graph=not a.no_graph,
            compile=a.compile,
            checkpoint_every=a.checkpoint_every,
            figures=not a.no_figures,
            tensorboard=not a.no_tensorboard,
            out=a.out,
            threads=a.threads,
        )
    except ValueError as e:
        p.error(str(e))


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    results = run_validation(cfg)
    for r in results.values():
        print(results_table(r))
    if (Path(cfg.out) / "comparison.md").exists():
        print((Path(cfg.out) / "comparison.md").read_text())
    print(f"results: {cfg.out}/<model>-s<seed>/results.json; figures and models beside them")


if __name__ == "__main__":
    run_cli(main)
