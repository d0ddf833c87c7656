"""Figures of a benchmarks/gpu_protocol.py run, drawn on any machine from what the GPU run sent back.

    python benchmarks/gpu_figures.py RUN_DIR MODELS_DIR --data-dir ../shared/datasets

RUN_DIR holds summary.json; MODELS_DIR the <model>-s<seed>.pt files. Writes into RUN_DIR: latent_pca.png (the
paper's Figure 6 for the LVAE and the VAE of the first seed, one row each), elbo.png (test ELBO by epoch, every
model) and kl_per_layer.png (training KL per layer by epoch, LVAE against VAE).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvae import load_model  # noqa: E402
from lvae.datasets import load_dataset  # noqa: E402


def _pcs(z: np.ndarray) -> np.ndarray:
    zc = z - z.mean(0)
    _, _, vt = np.linalg.svd(zc, full_matrices=False)
    pcs = zc @ vt[:2].T
    return pcs if pcs.shape[1] == 2 else np.column_stack([pcs[:, 0], np.zeros(len(pcs))])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("models_dir")
    p.add_argument("--data-dir", default="../shared/datasets")
    p.add_argument("--n", type=int, default=5000, help="test images in the PCA figure")
    a = p.parse_args()
    run, models = Path(a.run_dir), Path(a.models_dir)
    summary = json.loads((run / "summary.json").read_text())
    results = summary["results"]
    seed = min(r["seed"] for r in results.values())
    ds = load_dataset("mnist", data_dir=a.data_dir, download=False)
    x, y = torch.as_tensor(ds.test_x[: a.n]), ds.test_y[: a.n]
    kinds = [k for k in ("lvae", "vae") if f"{k}-s{seed}" in results]
    layers = len(results[f"{kinds[0]}-s{seed}"]["latent_dims"])
    fig, axes = plt.subplots(len(kinds), layers, figsize=(2.6 * layers, 2.7 * len(kinds)), squeeze=False)
    for row, kind in enumerate(kinds):
        model = load_model(models / f"{kind}-s{seed}.pt")
        r = results[f"{kind}-s{seed}"]
        torch.manual_seed(0)  # one draw z ~ q(z | x) per image, as the paper's Figure 6 plots
        for i, z in enumerate(model.encode(x, sample=True)):
            pcs = _pcs(z.numpy())
            ax = axes[row][i]
            ax.scatter(pcs[:, 0], pcs[:, 1], c=y, s=1.5, cmap="tab10", rasterized=True)
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"{kind.upper()} z{i + 1}: {r['active_units'][i]}/{r['latent_dims'][i]} active", fontsize=9)
    fig.suptitle(
        f"PCA of each layer's samples z ~ q(z|x), {a.n} MNIST test images coloured by digit "
        f"(seed {seed}, {results[f'{kinds[0]}-s{seed}']['epochs']} epochs)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(run / "latent_pca.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, h in summary["histories"].items():
        valid = np.asarray(h["main"]["valid_elbo"], dtype=float)
        epochs = np.arange(1, len(valid) + 1)
        ok = np.isfinite(valid)
        ax.plot(epochs[ok], valid[ok], label=name.replace("-s", " seed "), ls="-" if "lvae" in name else "--")
    ax.set(xlabel="epoch", ylabel="test ELBO (nats per image)", title="Test ELBO during training (eval mode)")
    ax.set_ylim(top=-84, bottom=-100)
    ax.legend()
    fig.tight_layout()
    fig.savefig(run / "elbo.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 3.8), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds, strict=True):
        kls = np.asarray(summary["histories"][f"{kind}-s{seed}"]["main"]["kl_per_layer"])
        for i in range(kls.shape[1]):
            ax.plot(np.arange(1, len(kls) + 1), kls[:, i], label=f"z{i + 1}")
        ax.set(xlabel="epoch", ylabel="KL term (nats per image)", title=f"{kind.upper()} seed {seed}: KL per layer")
        ax.legend()
    fig.tight_layout()
    fig.savefig(run / "kl_per_layer.png", dpi=100)
    plt.close(fig)
    print(f"figures in {run}")


if __name__ == "__main__":
    main()
