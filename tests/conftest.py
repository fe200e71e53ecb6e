"""Shared test settings.

``S3T_TEST_SIZE`` is ``small`` in CI (``make test``) and ``full`` for ``make test-full``;
slow real-model tests read it to choose their size.
"""
from __future__ import annotations

import os
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
