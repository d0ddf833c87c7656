"""How much the batch-norm test statistics' pass matters: stored-order batches against the whole set at once.

    python -m benchmarks.batch_norm_order --dataset mnist --epochs 10 --data-dir ../shared/datasets

Trains the paper's LVAE and VAE ('sample' KL) as a group for a few epochs, then scores each model twice on the
same test images with the same noise: with the statistics averaged over batches of 1,000 of the training set in
stored order (`recalibrate_batch_norm(batch_size=1000, shuffle=False)`: how the project scored before), and
with the whole set in one pass (as now, and as the original code). Prints the test ELBO over all test images and
L_K on random test images for both, and their paired difference. On a training file sorted by class (OMNIGLOT's,
by alphabet) the batches see a few classes each; on a shuffled one (MNIST's) they see all of them.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from lvae import MNIST_PAPER, HierarchicalVAE, LadderVAE, TrainConfig, fit_group
from lvae.datasets import load_dataset
from lvae.evaluate import elbo_and_kl, iw_log_likelihood, paired_difference, recalibrate_batch_norm


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist", choices=("mnist", "omniglot"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--iw-samples", type=int, default=500)
    p.add_argument("--iw-examples", type=int, default=1000)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = load_dataset(a.dataset, a.data_dir)
    cfg = dataclasses.replace(MNIST_PAPER, input_dim=ds.train_x.shape[1], kl="sample")
    models = []
    for cls in (LadderVAE, HierarchicalVAE):
        torch.manual_seed(0)
        models.append(cls(cfg))
    train = TrainConfig(epochs=a.epochs, warmup_epochs=max(1, a.epochs // 5), dynamic_binarize=True)
    fit_group(models, ds.train_x, train, [0, 0], progress=False)
    rows = np.sort(np.random.default_rng(0).choice(len(ds.test_x), a.iw_examples, replace=False))
    print(f"{a.dataset}, {a.epochs} epochs; test ELBO on all {len(ds.test_x)} test images, L{a.iw_samples} on "
          f"{a.iw_examples} of them (same noise for both statistics)")  # fmt: skip
    print("| model | statistics | test ELBO | L_K |\n|---|---|---:|---:|")
    for name, model in zip(("LVAE", "VAE"), models, strict=True):
        scores = {}
        for label, how in (
            ("stored-order batches of 1,000", {"batch_size": 1000, "shuffle": False}),
            ("whole set, one pass", {}),
        ):
            recalibrate_batch_norm(model, ds.train_x, binarize=True, seed=0, **how)
            torch.manual_seed(2)
            elbo = elbo_and_kl(model, ds.test_x)[0]
            torch.manual_seed(3)
            ll = iw_log_likelihood(model, ds.test_x[rows], a.iw_samples, progress=False).numpy()
            scores[label] = (elbo, ll)
            print(f"| {name} | {label} | {elbo:.3f} | {ll.mean():.3f} |")
        (e0, l0), (e1, l1) = scores.values()
        mean, se = paired_difference(l1, l0)
        print(f"| {name} | whole − stored | {e1 - e0:+.3f} | {mean:+.3f} ± {se:.3f} |")


if __name__ == "__main__":
    from lvae.cli import run_cli

    run_cli(main)
