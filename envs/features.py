"""Feature sets the agents see: LVAE or plain-VAE latents, PCA of the windows (same dimension), raw windows.

Every transform is fitted on the training rows only and applied row by row, so row t of the output depends
on row t of the input and on training-period statistics, never on anything after t outside training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """Per-column z-score with training statistics (columns constant in training are left centred)."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), std=np.where(std > 1e-12, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)


@dataclass(frozen=True)
class PCA:
    """Principal components by SVD of the centred training rows."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D), rows orthonormal, by decreasing variance
    explained_variance: np.ndarray  # (k,)

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> PCA:
        x = np.asarray(x, dtype=np.float64)
        if not 1 <= k <= min(x.shape):
            raise ValueError(f"k={k} must be in [1, {min(x.shape)}]")
        mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        vt = vt[:k] * np.sign(vt[:k, :1] + 1e-300)  # fix the sign of each component: deterministic output
        return cls(mean=mean, components=vt, explained_variance=s[:k] ** 2 / max(len(x) - 1, 1))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T


def make_features(kind: str, latents: np.ndarray, windows: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(T, F) float32 features of ``kind`` in {"lvae", "vae", "pca", "raw"}, z-scored with training statistics.

    ``train`` is the (T,) boolean mask of training rows; ``latents`` are the LVAE's (or, for "vae", the plain
    VAE's); PCA keeps as many components as the latents have (only their number of columns is read).
    """
    if kind in ("lvae", "vae"):
        x = latents
    elif kind == "pca":
        x = PCA.fit(windows[train], latents.shape[1]).transform(windows)
    elif kind == "raw":
        x = windows
    else:
        raise ValueError(f"unknown feature set {kind!r}; use lvae, vae, pca or raw")
    return Standardizer.fit(np.asarray(x)[train]).transform(x)
