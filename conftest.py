"""Test set-up shared by unit tests and nbval: offline, CPU, no progress bars, portable comparisons, no writes.

- Every notebook kernel inherits the environment set here (``ftrag.env.RUN_ENV``, as under ``python -m
ftrag.course.refresh``).
- A lesson's ``save_results`` writes into a temporary folder, not ``results/``: the suite changes nothing in the
  repository (``git status`` is clean after it), and no test depends on what another worker's notebook wrote.
- nbval compares text and integers exactly and measured floats by value (``tests/nbval_tolerance.py``).
- Notebook cells and tests marked ``slow`` are what ``python -m pytest -m "not slow"`` leaves out.
"""

import atexit
import os
import shutil
import tempfile

from ftrag.env import RUN_ENV
from ftrag.results import RESULTS_ENV
from tests import nbval_tolerance

# Set before any kernel starts, so notebook kernels inherit it. FTRAG_TEST_THREADS=N runs every kernel with N
# threads instead of one, to check that the outputs do not depend on the thread count.
os.environ.update(RUN_ENV)
if os.environ.get("FTRAG_TEST_THREADS", "").strip():
    os.environ["OMP_NUM_THREADS"] = os.environ["FTRAG_TEST_THREADS"].strip()
_results = tempfile.mkdtemp(prefix="ftrag-test-results-")  # one per xdist worker; tests/sanitize.cfg names it
atexit.register(shutil.rmtree, _results, ignore_errors=True)
os.environ[RESULTS_ENV] = _results

nbval_tolerance.install()


def pytest_collectstart(collector):
    """Do not compare what legitimately differs between runs: stderr (warnings), HTML and JS."""
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr", "text/html", "application/javascript")


def pytest_collection_modifyitems(items):
    """Every notebook cell is slow: executing a notebook is what the fast lane leaves out."""
    import pytest

    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
