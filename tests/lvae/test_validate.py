import json

import pytest

from lvae.cli import InputError
from lvae.validate import ValidateConfig, parse_args, run_validation


def test_validation_run_writes_results_beside_the_papers_numbers_and_resumes(shared_datasets, tmp_path):
    cfg = ValidateConfig(
        dataset="mnist",
        layers=2,
        epochs=1,
        warmup_epochs=1,
        iw_samples=20,
        limit=300,
        data_dir=str(shared_datasets),
        out=str(tmp_path),
        threads=1,
    )
    first = run_validation(cfg, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["epochs"] == 1 and saved["iw_samples"] == 20 and saved["iw_examples"] == 300
    assert len(saved["kl_per_layer"]) == 2 and len(saved["active_units"]) == 2
    assert saved["test_log_likelihood"] >= saved["test_elbo_iw_examples"]  # the IW bound is above the ELBO
    table = (tmp_path / "results.md").read_text()
    assert "| LVAE 5-layer (paper) | -82.12 |" in table
    for figure in ("learning_curves.png", "kl_per_layer.png", "latent_pca.png", "samples.png"):
        assert (tmp_path / figure).stat().st_size > 0
    # More epochs on the same output directory continue from the checkpoint instead of starting again.
    more = run_validation(ValidateConfig(**{**cfg.__dict__, "epochs": 2}), progress=False)
    assert more["epochs"] == 2 and first["epochs"] == 1


def test_cli_rejects_bad_arguments():
    with pytest.raises(InputError, match=r"layers must be 1..5.*, command line"):
        parse_args(["--layers", "7"])
    with pytest.raises(InputError, match="invalid choice: 'cifar'"):
        parse_args(["--dataset", "cifar"])
