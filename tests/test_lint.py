"""The code and notebooks stay ruff-clean."""

import subprocess
import sys

from ftrag.paths import repo_root


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=repo_root(),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
