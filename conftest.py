"""Test set-up shared by unit tests and nbval: offline, CPU, no progress bars, stable comparisons."""

import os

from ftrag.refresh import TEST_ENV

# Set before any kernel starts, so notebook kernels inherit it.
os.environ.update(TEST_ENV)


def pytest_collectstart(collector):
    """Do not compare what legitimately differs between runs: stderr (warnings), HTML and JS."""
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr", "text/html", "application/javascript")
