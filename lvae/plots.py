"""Figures of a validation run: learning curves, KL per layer, PCA of each layer's latents, samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lvae.train import History  # noqa: E402


def learning_curves(history: History, path: Path) -> None:
    """Train and test ELBO by epoch, with β; the right panel zooms in on the epochs after warm-up, where a long
    run's train-test gap opens, and marks the epoch of the best test ELBO (shown, not used to pick a model)."""
    epochs = np.arange(1, history.epochs_done + 1)
    train = np.asarray(history.elbo, dtype=float)
    valid = np.asarray(history.valid_elbo, dtype=float)
    ok = np.isfinite(valid)
    style = "o-" if ok.sum() <= 60 else "-"  # a marker per evaluation only while they can be told apart
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax.plot(epochs, train, label="train ELBO")
    if ok.any():
        ax.plot(epochs[ok], valid[ok], style, label="test ELBO")
    ax.set(xlabel="epoch", ylabel="nats", title="ELBO")
    beta = ax.twinx()
    beta.plot(epochs, history.beta, ":", color="grey", label="β (warm-up)")
    beta.set(ylabel="β", ylim=(0, 1.05))
    lines = ax.get_legend_handles_labels()[0] + beta.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="lower right")
    done = np.asarray(history.beta, dtype=float) >= 1.0
    start = int(np.argmax(done)) if done.any() else 0
    start = max(start, len(epochs) // 10)  # no warm-up: leave out the first tenth, the steep start
    after = epochs > start
    if after.sum() < 2:  # a run about as long as its warm-up: the whole run
        after, start = epochs > 0, 0
    if after.sum() >= 2:
        bx.plot(epochs[after], train[after], label="train ELBO")
        late = after & ok
        if late.any():
            bx.plot(epochs[late], valid[late], style, label="test ELBO")
            best = int(np.flatnonzero(late)[np.argmax(valid[late])])
            bx.plot(epochs[best], valid[best], "k*", ms=10,
                    label=f"best test ELBO {valid[best]:.2f} (epoch {epochs[best]})")  # fmt: skip
            bx.plot(epochs[late][-1], valid[late][-1], "kx", ms=8,
                    label=f"last {valid[late][-1]:.2f} (epoch {epochs[late][-1]})")  # fmt: skip
        bx.legend(loc="best", fontsize="small")
    bx.set(xlabel="epoch", ylabel="nats", title=f"after epoch {start}" if start else "all epochs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kl_per_layer(history: History, test_kl: list[float], path: Path) -> None:
    kls = np.asarray(history.kl_per_layer)  # (epochs, L)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.5))
    for i in range(kls.shape[1]):
        ax.plot(np.arange(1, len(kls) + 1), kls[:, i], label=f"z{i + 1}")
    ax.set(xlabel="epoch", ylabel="KL (nats)", title="KL per layer, training", yscale="symlog")
    ax.legend()
    bx.bar([f"z{i + 1}" for i in range(len(test_kl))], test_kl)
    bx.set(ylabel="KL (nats)", title="KL per layer, test")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latent_pca(
    latents: list[np.ndarray],
    labels: np.ndarray,
    path: Path,
    label_names: dict[int, str] | None = None,
    what: str = "posterior means",
) -> None:
    """First two principal components of each layer's latents, coloured by class; with posterior samples, the
    paper's Fig. 6. ``what`` says which latents they are, in the figure's title.

    The legend names each colour: ``label_names`` (e.g. {0: "train", 1: "valid"}), else the label itself."""
    fig, axes = plt.subplots(1, len(latents), figsize=(3.2 * len(latents), 3.6), squeeze=False)
    classes = np.unique(labels)
    # up to 20 classes, one listed colour each; more (OMNIGLOT's 50 alphabets) would repeat a palette's colours,
    # so they take a continuous map by class index, and a colour bar in place of the legend
    listed = len(classes) <= 20
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20" if listed else "turbo")
    rank = {int(c): k for k, c in enumerate(classes)}

    span = max(float(classes[-1] - classes[0]), 1.0)

    def colour(c: int) -> Any:  # listed: one entry per class; else by label value, as the colour bar reads
        return cmap(rank[c]) if listed else cmap((c - float(classes[0])) / span)

    for i, (z, ax) in enumerate(zip(latents, axes[0], strict=True)):
        zc = z - z.mean(0)
        _, sv, vt = np.linalg.svd(zc, full_matrices=False)
        pcs = zc @ vt[: min(2, vt.shape[0])].T
        if pcs.shape[1] == 1:
            pcs = np.column_stack([pcs[:, 0], np.zeros(len(pcs))])
        share = sv**2 / max(float(np.sum(sv**2)), 1e-12)
        # one scatter in a seeded random order, so that no class is drawn over all the others
        order = np.random.default_rng(0).permutation(len(pcs))
        ax.scatter(*pcs[order].T, s=2, color=[colour(int(c)) for c in labels[order]])
        ax.set(title=f"z{i + 1} ({z.shape[1]} units)", xticks=[], yticks=[])
        ax.set_xlabel(f"PC 1 ({share[0]:.0%} of variance)", fontsize=8)
        ax.set_ylabel(f"PC 2 ({share[1] if len(share) > 1 else 0:.0%})", fontsize=8)
    fig.suptitle(f"PCA of each layer's {what}", fontsize=9)
    if listed:
        names = [(label_names or {}).get(int(c), str(c)) for c in classes]
        handles = [
            matplotlib.lines.Line2D([], [], ls="", marker="o", ms=3, color=colour(int(c)), label=n)
            for c, n in zip(classes, names, strict=True)
        ]
        ncol = min(len(names), 10)
        rows = -(-len(names) // ncol)
        fig.legend(handles, names, loc="lower center", ncol=ncol, markerscale=1.5, fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.04 + 0.06 * rows, 1, 0.94))
    else:
        fig.tight_layout(rect=(0, 0.12, 1, 0.94))
        bar = fig.add_axes((0.3, 0.06, 0.4, 0.025))
        norm = matplotlib.colors.Normalize(vmin=float(classes[0]), vmax=float(classes[-1]))
        fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=bar, orientation="horizontal")
        bar.tick_params(labelsize=7)
        fig.text(0.71, 0.07, f"class ({len(classes)} in all)", fontsize=8, va="center")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_grid(rows: list[np.ndarray], shape: tuple[int, ...], titles: list[str], path: Path) -> None:
    """Each entry of `rows` is (n, D) images drawn in one row."""
    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.8, len(rows) * 0.9), squeeze=False)
    for r, (images, title) in enumerate(zip(rows, titles, strict=True)):
        for c in range(n):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(images):
                ax.imshow(images[c].reshape(shape), cmap="gray", vmin=0, vmax=1)
        axes[r][0].set_title(title, fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
