"""Pipeline test setup: makes the helper module pipeline_fakes importable (pytest runs in importlib mode)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
