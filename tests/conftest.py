"""Shared test settings.

``S3T_TEST_SIZE`` is ``small`` in CI (``make test``) and ``full`` for ``make test-full``;
slow real-model tests read it to choose their size.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def test_size() -> str:
    return os.environ.get("S3T_TEST_SIZE", "small")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"offline data not found at {SHARED_DATA}: CI clones the project with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tests that use torch run it on one thread: their matrices are tiny, and extra threads
    only add synchronisation (and stall on a busy 2-core machine). Modules without torch are
    left alone (importing it here would slow every test)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A throw-away copy of the module's ``trained_run`` (tests that change a run use it)."""
    target = tmp_path / "run"
    shutil.copytree(trained_run, target)
    return target
