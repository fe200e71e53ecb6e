"""Serving benchmarks, each next to its naive baseline.

1. ``s3t eval`` of the SST-2 dev set (6,735 rows) on an m = L = B = 3 MiniLM run: the
   served path (packed, [CLS]-only last layer, frozen trunk shared by the stages, batches
   of 64) against the previous path, the plain padded ``peft`` forward of each shard run
   separately (timed on ``--baseline-rows`` rows and reported per row).
2. ``predict`` of 1,000 sentences against a warm model (loaded once in the process).
3. f(k) profile (k = 0..L of one shard) on the shared trunk against one forward per stage.
4. Attention on CPU: one masked batched SDPA call against one call per example.

Wall and CPU seconds are reported (the box is shared; CPU seconds are what the process
used). Run: ``python -m bench serving`` (trains the run into a temporary folder first,
about 2 minutes) or ``python -m bench.bench_serving --run RUN``. Rows go to
``bench/results/serving.json``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "serving.json"
DATA = ROOT.parent / "shared" / "data" / "sst2"


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _plain_logits(run, texts: list[str]):
    """The previous serving path: each live shard's plain padded peft forward, batches of 64."""
    import torch

    from s3t_train.serving import live_stages, serving_model, token_rows
    from s3t_train.packed import pad_batch
    from s3t_train.stage_model import load_prefix

    model = serving_model(run)
    per_shard = []
    with torch.no_grad():
        for shard, prefix in live_stages(run):
            load_prefix(model, run.run_dir, shard, prefix, run.config.fingerprint(), run.node_states)
            parts = []
            for start in range(0, len(texts), 64):
                ids, mask = pad_batch(token_rows(run, texts[start : start + 64]))
                parts.append(model.logits(ids, mask))
            per_shard.append(torch.cat(parts))
    return torch.stack(per_shard).mean(0)


def bench_eval(run, args) -> list[dict]:
    from s3t_train.evaluation import eval_dataset, evaluate
    from s3t_train.serving import predict_logits

    dataset = eval_dataset(run)
    predict_logits(run, dataset.texts[:64])  # loads the model and tokenizer outside the timings
    result, wall, cpu = _timed(lambda: evaluate(run, dataset, progress=False))
    sample = dataset.texts[: args.baseline_rows]
    plain, plain_wall, plain_cpu = _timed(lambda: _plain_logits(run, sample))
    served = predict_logits(run, sample)
    row = {
        "bench": "eval", "rows": len(dataset), "m": run.m, "L": run.L, "accuracy": result["accuracy"],
        "served_wall_s": wall, "served_cpu_s": cpu,
        "plain_rows": len(sample), "plain_wall_s": plain_wall, "plain_cpu_s": plain_cpu,
        "plain_wall_s_per_row": plain_wall / len(sample), "served_wall_s_per_row": wall / len(dataset),
        "speedup_per_row": (plain_wall / len(sample)) / (wall / len(dataset)),
        "max_abs_logit_diff_vs_plain": float((plain - served).abs().max()),
    }
    print(f"  eval {row['rows']} rows: served {wall:.1f} s wall ({cpu:.1f} s CPU); plain peft per shard "
          f"{row['plain_wall_s_per_row'] * 1000:.1f} ms/row vs {row['served_wall_s_per_row'] * 1000:.1f} ms/row "
          f"(x{row['speedup_per_row']:.2f}); max |logit diff| {row['max_abs_logit_diff_vs_plain']:.1e}", flush=True)
    return [row]


def bench_predict(run, args) -> list[dict]:
    from s3t_train.data import load_examples
    from s3t_train.serving import predict

    texts = load_examples(str(args.data), "eval", limit=args.predict_rows, seed=1).texts
    predict(run, texts[:8])  # warm
    _, wall, cpu = _timed(lambda: predict(run, texts))
    print(f"  predict {len(texts)} sentences, warm model: {wall:.2f} s wall ({cpu:.2f} s CPU)", flush=True)
    return [{"bench": "predict", "rows": len(texts), "wall_s": wall, "cpu_s": cpu}]


def bench_profile(run, args) -> list[dict]:
    from s3t_train.evaluation import eval_dataset
    from s3t_train.serving import stage_logits, stages_logits

    texts = eval_dataset(run, limit=args.baseline_rows).texts
    order = tuple(int(s) for s in run.sequences[0][0])
    stages = [(0, order[:k]) for k in range(run.L + 1)]
    _, shared_wall, _ = _timed(lambda: stages_logits(run, stages, texts, progress=False))
    _, alone_wall, _ = _timed(lambda: [stage_logits(run, s, p, texts) for s, p in stages])
    print(f"  f(k) profile, {len(stages)} stages x {len(texts)} rows: shared trunk {shared_wall:.2f} s, one stage at a time {alone_wall:.2f} s "
          f"(x{alone_wall / shared_wall:.2f})", flush=True)
    return [{"bench": "profile", "rows": len(texts), "stages": len(stages), "shared_wall_s": shared_wall, "alone_wall_s": alone_wall}]


def bench_attention(run, args) -> list[dict]:
    import torch

    from s3t_train.evaluation import eval_dataset
    from s3t_train.packed import packed_bert_layer
    from s3t_train.serving import serving_model, token_rows

    model = serving_model(run)
    rows = token_rows(run, eval_dataset(run, limit=args.baseline_rows).texts)
    timings = {}
    for batched in (False, True, False, True):  # interleaved, best of 2
        wall = time.perf_counter()
        with torch.no_grad():
            for start in range(0, len(rows), 64):
                hidden, batch = model.embed(rows[start : start + 64])
                for layer in model.layers:
                    hidden = packed_bert_layer(layer, hidden, batch, batched=batched)
        timings[batched] = min(timings.get(batched, float("inf")), time.perf_counter() - wall)
    print(f"  attention, {len(rows)} rows x {len(model.layers)} layers: per example {timings[False]:.2f} s, batched masked SDPA {timings[True]:.2f} s", flush=True)
    return [{"bench": "attention", "rows": len(rows), "per_example_s": timings[False], "batched_s": timings[True]}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=None, help="a trained run folder (default: train m = L = B = 3 MiniLM on --limit rows)")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--limit", type=int, default=900, help="training rows when the run is trained here")
    parser.add_argument("--baseline-rows", type=int, default=640, help="rows for the baselines (the plain path is slow)")
    parser.add_argument("--predict-rows", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's, or S3T_TORCH_THREADS)")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    import torch

    from s3t_sim.output import write_json_atomic
    from s3t_train.config import DataConfig, RunConfig, SystemConfig, TrainingConfig
    from s3t_train.driver import train_run
    from s3t_train.run import S3TRun
    from s3t_train.run_folder import create_run
    from s3t_train.stage_model import configure_torch

    configure_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run
        if run_dir is None:
            run_dir = Path(tmp) / "run"
            create_run(RunConfig(DataConfig(args.data, limit=args.limit), training=TrainingConfig(model="minilm"), system=SystemConfig(3, 3, 3)), run_dir)
            train_run(run_dir, progress=False)
        run = S3TRun(run_dir)
        print(f"serving benchmarks ({torch.get_num_threads()} torch thread(s)), run {run_dir}", flush=True)
        rows = [r for part in (bench_eval, bench_predict, bench_profile, bench_attention) for r in part(run, args)]
    write_json_atomic(args.results, {"threads": torch.get_num_threads(), "rows": rows})
    print(f"rows in {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
