"""Market data -> leakage-safe windows -> Ladder VAE latent states (see pipeline.build)."""

import importlib

from pipeline.cache import MarketCache, default_cache_dir
from pipeline.features import FEATURE_NAMES, compute_features, feature_names
from pipeline.ingest import IngestConfig, IngestError, fetch
from pipeline.sources import MarketData, load_bars, load_market, read_csv_dir, read_csv_file
from pipeline.validate import DataValidationError, Note, Panel, ValidationConfig, align, validate_bars
from pipeline.windows import Fold, Normaliser, make_windows, purge_length, split_labels, walk_forward_folds

_BUILD_NAMES = ("Build", "BuildConfig", "WindowDataset", "build", "latest_build", "load_build", "make_dataset")


def __getattr__(name: str):
    """Names of pipeline.build, imported on first use so `python -m pipeline.build` runs it only once."""
    if name in _BUILD_NAMES:
        module = importlib.import_module("pipeline.build")
        globals().update({n: getattr(module, n) for n in _BUILD_NAMES})  # `pipeline.build` is the function
        return globals()[name]
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")


__all__ = [
    "FEATURE_NAMES",
    "Build",
    "BuildConfig",
    "DataValidationError",
    "Fold",
    "IngestConfig",
    "IngestError",
    "MarketCache",
    "MarketData",
    "Normaliser",
    "Note",
    "Panel",
    "ValidationConfig",
    "WindowDataset",
    "align",
    "build",
    "compute_features",
    "default_cache_dir",
    "feature_names",
    "fetch",
    "latest_build",
    "load_bars",
    "load_build",
    "load_market",
    "make_dataset",
    "make_windows",
    "purge_length",
    "read_csv_dir",
    "read_csv_file",
    "split_labels",
    "validate_bars",
    "walk_forward_folds",
]
