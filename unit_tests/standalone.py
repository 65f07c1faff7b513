"""Run a few lines of Python in a fresh interpreter at the repository root: what a package loads on its own."""

import subprocess
import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[1]


def printed_alone(probe: str) -> List[str]:
    """The lines ``probe`` prints in a new process (which must succeed)."""
    completed = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip().splitlines()
