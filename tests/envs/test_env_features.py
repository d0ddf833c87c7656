"""PCA / raw / latent feature sets: fitted on training rows only, applied row by row."""

import numpy as np
import pytest

from envs.features import PCA, make_features


def test_pca_recovers_the_dominant_directions():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0].T  # (2, 10) orthonormal
    x = (rng.normal(size=(500, 2)) * [5.0, 2.0]) @ basis + 0.01 * rng.normal(size=(500, 10))
    pca = PCA.fit(x, 2)
    assert np.abs(pca.components @ basis.T) == pytest.approx(np.eye(2), abs=5e-3)
    assert pca.explained_variance == pytest.approx([25.0, 4.0], rel=0.15)


@pytest.mark.parametrize("kind", ["lvae", "pca", "raw"])
def test_features_ignore_everything_outside_training_but_the_row_itself(kind):
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(200, 12))
    latents = rng.normal(size=(200, 3))
    train = np.arange(200) < 120
    base = make_features(kind, latents, windows, train)
    later_w, later_l = windows.copy(), latents.copy()
    later_w[150:] += 3.0
    later_l[150:] -= 2.0
    changed = make_features(kind, later_l, later_w, train)
    assert np.array_equal(base[:150], changed[:150])
    assert base.shape[1] == (12 if kind == "raw" else 3)
    assert base[train].mean(axis=0) == pytest.approx(0.0, abs=1e-5)
    assert base[train].std(axis=0) == pytest.approx(1.0, abs=1e-4)
