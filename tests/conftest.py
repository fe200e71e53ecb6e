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


TOY_WORDS = {1: ["great", "superb", "lovely", "brilliant", "fun", "moving"], 0: ["awful", "boring", "dull", "terrible", "weak", "bland"]}
TOY_FILLER = ["film", "plot", "actors", "story", "music", "ending", "the", "a"]


def _write_toy(folder: Path, n_train: int = 64, n_eval: int = 40, seed: int = 0) -> Path:
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("dev", n_eval)):
        lines = ["sentence\tlabel"]
        for _ in range(n):
            label = int(rng.integers(2))
            words = list(rng.choice(TOY_WORDS[label], 2)) + list(rng.choice(TOY_FILLER, 3))
            rng.shuffle(words)
            lines.append(" ".join(words) + f"\t{label}")
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="session")
def write_toy():
    """``write_toy(folder, n_train=64, n_eval=40, seed=0)``: a learnable two-class sentiment set
    (``train.tsv``, ``dev.tsv``; the label is which word list the adjectives come from); returns ``folder``."""
    return _write_toy


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A throw-away copy of the module's ``trained_run`` (tests that change a run use it)."""
    target = tmp_path / "run"
    shutil.copytree(trained_run, target)
    return target
