"""Shared pytest fixtures."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The staged datasets folder, <repo>/../shared/datasets; skips the test when it is absent."""
    path = REPO.parent / "shared" / "datasets"
    if not path.is_dir():
        pytest.skip(f"staged datasets not found at {path}")
    return path
