"""Sub-commands of ``s3t`` contributed by this package (see ``analysis.cli``):
``train``, ``delete``, ``ids``, ``predict``, ``export``, ``eval``, ``audit``, ``retrain``, ``profile``.

The modules that import torch are imported inside the command functions, so that
``s3t --help`` stays fast.
"""
from __future__ import annotations

import argparse

from s3t_sim.output import print_result
from s3t_train.backends import add_backend_arguments, executor_from_args
from s3t_train.config import DataConfig, GroupLoRAConfig, RunConfig, SystemConfig, TrainingConfig
from s3t_train.tasks import TASKS

ID_HELP = ("example id(s): with --id-column at train, the key in that column; otherwise the 0-based index of the "
           "example's record after the header of the training file, counting every line (blank lines keep their index "
           "and hold no example; a quoted CSV field spanning lines is one record); the row index for a hub dataset. "
           "`s3t ids --run RUN` lists them")


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's sub-commands to the ``s3t`` parser."""
    p = subparsers.add_parser("train", help="train an S3T system (LoRA stages per slice) on a text-classification set",
                              description="Train an S3T system. The README demo (--limit 900, m = L = B = 3, MiniLM) trains "
                              "27 stages in 47 s on one CPU thread (S3T_TORCH_THREADS=1).")
    p.add_argument("--data", required=True, help="TSV/CSV/JSONL file, a folder with train.tsv (+ dev.tsv/test.tsv), or a hub dataset name")
    p.add_argument("--out", required=True, help="run folder (re-running with the same settings resumes)")
    p.add_argument("--shards", type=int, default=3, help="m, number of shards (default 3)")
    p.add_argument("--slices", type=int, default=3, help="L, slices per shard = adapter groups (default 3)")
    p.add_argument("--budget", type=int, default=3, help="B, sequences per shard (default 3)")
    p.add_argument("--selection", default="cyclic", help="sequence selection method (see `s3t select`; default cyclic)")
    p.add_argument("--epochs", type=int, default=1, help="passes over each stage's slice data (default 1)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of the LoRA adapters (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=16, help="examples per optimiser step (default 16)")
    p.add_argument("--max-length", type=int, default=64, help="tokens kept per example, longer texts truncated (default 64)")
    _add_lora_arguments(p)
    p.add_argument("--model", default="minilm", help="'minilm' (offline default), 'tiny' (random test model), a hub name or a local path")
    p.add_argument("--limit", type=int, default=None, help="train on a seeded random subsample of N examples")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="autocast dtype on cuda")
    p.add_argument("--seed", type=int, default=0, help="training seed (adapter init, batch order)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the subsample and shard/slice split")
    p.add_argument("--deletion-weights", default=None, help="CSV id,weight: group likely deletions into the same slices")
    _add_task_arguments(p)
    p.add_argument("--select-on-validation", type=float, default=None, metavar="F",
                   help="keep each stage's best epoch by the loss on a seeded fraction F in (0, 1) of each of its slices (default off)")
    p.add_argument("--no-cache", action="store_true", help="plain peft loop: padded batches, no activation cache, no packing")
    p.add_argument("--progress", action="store_true", help="show progress bars even when stderr is not a terminal")
    add_backend_arguments(p)
    p.set_defaults(func=run_train)

    _add_deletion_commands(subparsers)

    p = subparsers.add_parser("predict", help="predict labels with the served ensemble")
    p.add_argument("--run", required=True)
    p.add_argument("--text", action="append", default=[], help="text to classify (repeat for a batch); for a pair run 'TEXT<TAB>PAIR', for an image run an image path")
    p.add_argument("--file", default=None, help="file of texts to classify, one per line ('-' reads stdin); for a pair run TEXT<TAB>PAIR lines")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")
    p.add_argument("--vote", default="mean", choices=("mean", "majority"))
    p.add_argument("--max-new-tokens", type=int, default=32, help="causal-lm runs: tokens generated per prompt at most (default 32)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_predict)

    p = subparsers.add_parser("export", help="write the served ensemble as peft adapters (save_pretrained) + ensemble.json")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="new folder for the export")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("eval", help="accuracy of the served ensemble on the held-out set")
    p.add_argument("--run", required=True)
    p.add_argument("--limit", type=int, default=None, help="evaluate a seeded subsample of N held-out examples")
    p.add_argument("--vote", default="mean", choices=("mean", "majority"))
    p.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_eval)

    p = subparsers.add_parser("audit", help="check that no active stage ever saw a deleted example")
    p.add_argument("--run", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_audit)

    p = subparsers.add_parser("retrain", help="rebuild a dead or damaged shard without the deleted data")
    p.add_argument("--run", required=True)
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_retrain)

    p = subparsers.add_parser("profile", help="measured performance model f(k): accuracy with k active groups, as CSV k,accuracy")
    p.add_argument("--run", required=True)
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="seeded subsample of N held-out examples")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.set_defaults(func=run_profile)


def _add_deletion_commands(subparsers: "argparse._SubParsersAction") -> None:
    """``delete`` and ``ids``: forgetting examples, and the ids they take."""
    p = subparsers.add_parser("delete", help="forget training examples (journal, deactivate, switch serving)")
    p.add_argument("--run", required=True)
    p.add_argument("--id", nargs="+", required=True, help=ID_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_delete)

    p = subparsers.add_parser("ids", help="list the example ids a run holds (and which are deleted)", description=ID_HELP)
    p.add_argument("--run", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_ids)


def _add_task_arguments(p: argparse.ArgumentParser) -> None:
    """The task and data-column flags of ``train`` (fields of :class:`s3t_train.config.DataConfig`)."""
    p.add_argument("--task", default="classification", choices=TASKS,
                   help="classification of one text (default), of a sentence pair (pairs, needs --text-pair-column), "
                   "regression on float labels (MSE, one output; a pair with --text-pair-column, STS-B style), or image "
                   "(--data root/<class>/<image> or root/train + root/val; any AutoModelForImageClassification; "
                   "ViT's LoRA targets are --target-modules q_proj v_proj), or causal-lm (instruction tuning of any "
                   "AutoModelForCausalLM on --text-column PROMPT --label-column RESPONSE, loss on response tokens; "
                   "Llama's LoRA targets are q_proj v_proj)")
    p.add_argument("--text-column", default=None)
    p.add_argument("--text-pair-column", default=None, help="header column of each example's second text (pairs)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--labels", default=None, help="the classes, comma-separated, in order (e.g. 0,1): a training label outside them is an error")
    p.add_argument("--header", default=None, choices=("yes", "no"),
                   help="whether the TSV/CSV file's first row is a header (default: decided, an ambiguous file is refused)")
    p.add_argument("--id-column", default=None, help="column of each example's own key (unique per row): `delete --id KEY` then takes these keys")


def _add_lora_arguments(p: argparse.ArgumentParser) -> None:
    """The LoRA flags of ``train`` (fields of :class:`s3t_train.config.GroupLoRAConfig`)."""
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    p.add_argument("--rslora", action="store_true", help="rank-stabilised LoRA: scale alpha/sqrt(rank) instead of alpha/rank")
    p.add_argument("--lora-dropout", type=float, default=0.0, help="LoRA dropout on the adapters being trained, seeded per stage (default 0)")
    p.add_argument("--target-modules", nargs="+", default=["query", "value"], help="adapted sub-modules of each layer (default query value)")
    p.add_argument("--layers-per-slice", type=int, default=None, help="fixed number of layers per adapter group (default: all layers split evenly into L groups)")
    p.add_argument("--group-order", default="top-down", choices=("top-down", "bottom-up"),
                   help="layer group of stage 1: the layers nearest the output (top-down, default) or nearest the input (bottom-up)")


def run_train(args: argparse.Namespace) -> int:
    from s3t_train.driver import train_with_backend
    from s3t_train.run_folder import create_run
    from s3t_train.stage_model import model_for
    from s3t_train.tasks import default_outputs

    config = RunConfig(
        data=DataConfig(args.data, args.text_column, args.label_column, args.limit, args.split_seed, args.deletion_weights, args.task,
                        args.text_pair_column, args.header, args.id_column, _labels(args.labels)),
        lora=GroupLoRAConfig(args.rank, args.alpha, tuple(args.target_modules), args.group_order, args.rslora, args.lora_dropout, args.layers_per_slice),
        training=TrainingConfig(args.model, args.epochs, args.lr, args.batch_size, args.max_length, args.seed, args.device, args.dtype, not args.no_cache,
                                args.select_on_validation),
        system=SystemConfig(args.shards, args.slices, args.budget, args.selection),
    )
    check_device_available(args.device)
    _check_train_args(args)
    try:
        model_for(config, num_labels=default_outputs(args.task))  # loads the model once; rejects an L the model cannot hold before writing anything
    except OSError as exc:
        raise ValueError(f"model must be 'minilm', 'tiny', a hub name or a local folder with safetensors weights; {args.model!r}: {str(exc).splitlines()[0]}") from None
    create_run(config, args.out)
    with executor_from_args(args) as executor:
        summary = train_with_backend(args.out, executor, progress=True if args.progress else None).to_dict()
    print(
        f"trained {summary['nodes_trained']} stages ({summary['nodes_skipped']} already done) in {summary['seconds']:.1f} s; "
        f"slice-passes {summary['slice_passes']} (prefix tree {summary['tree_cost']}, every sequence separately "
        f"{summary['separate_cost']}, saving {summary['saving_vs_separate']:.0%}); run in {args.out}"
    )
    return 0


def check_device_available(device: str) -> None:
    """Refuse ``--device cuda[:N]`` in one line where torch sees no CUDA device."""
    import torch

    if device != "cpu" and not torch.cuda.is_available():
        raise ValueError(f"device must be 'cpu' here: torch sees no CUDA device (got --device {device})")


def _labels(text: str | None) -> tuple[str, ...] | None:
    """``--labels A,B`` as a tuple of class names."""
    return None if text is None else tuple(x.strip() for x in text.split(","))


def _check_train_args(args: argparse.Namespace) -> None:
    """Refuse, before anything is loaded or written, settings that cannot finish or train."""
    import math

    from s3t_sim.checks import check_int

    if not args.out.strip():
        raise ValueError("out must name a run folder; got ''")
    check_int("epochs", args.epochs, 1, 10_000)
    check_int("max_length", args.max_length, 1, 100_000)
    if not (math.isfinite(args.lr) and 0 < args.lr <= 10):
        raise ValueError(f"lr must be a number in (0, 10]; got {args.lr}")


def _deletion_line(r: dict) -> str:
    state = "already deleted" if r["already_deleted"] else f"deactivated {len(r['deactivated'])} stage(s), response {r['response_seconds'] * 1000:.1f} ms"
    return f"id {r['example_id']} (shard {r['shard']}, slice {r['slice']}): {state}; served prefix {r['served_prefix']}; dead shards {r['dead_shards']}"


def run_delete(args: argparse.Namespace) -> int:

    run = _open(args.run)
    try:
        reports = [r.to_dict() for r in run.deletions.delete_many(args.id)]
    finally:
        run.close()
    print_result(reports, args.json, lambda rs: "\n".join(_deletion_line(r) for r in rs))
    return 0


def run_ids(args: argparse.Namespace) -> int:
    from s3t_train.run import S3TRun

    run = S3TRun(args.run)
    try:
        with run.lock.hold(shared=True):
            rows = run.store.listing()
    finally:
        run.close()
    print_result(rows, args.json, lambda rs: "\n".join(
        ["id\tshard\tslice\tstatus"] + [f"{r['id']}\t{r['shard']}\t{r['slice']}\t{'deleted' if r['deleted'] else 'held'}" for r in rs]))
    return 0


def _open(run_dir: str) -> "S3TRun":  # noqa: F821 - imported inside (torch)
    """Open a run for a command, reporting on stderr a torn journal tail that opening repaired."""
    import sys

    from s3t_train.run import S3TRun

    run = S3TRun(run_dir)
    if run.deletions.notice:
        print(f"warning: {run.deletions.notice}", file=sys.stderr)
    return run


def run_predict(args: argparse.Namespace) -> int:
    from s3t_train.serving import predict_logits

    texts = list(args.text) + _read_lines(args.file)
    if not texts:
        raise ValueError("predict needs texts: --text TEXT (repeatable) and/or --file FILE (one per line, '-' for stdin)")
    run = _open(args.run)
    with run.lock.hold(shared=True):
        if run.config.data.task == "causal-lm":
            from s3t_train.causal_lm import generate

            rows = [{"prompt": p, "response": r} for p, r in zip(texts, generate(run, texts, args.max_new_tokens))]
            print_result(rows, args.json, lambda rs: "\n".join(f"{r['prompt']}\t{r['response']}" for r in rs))
            return 0
        inputs = _pairs(texts) if run.config.data.text_pair_column else texts
        logits = predict_logits(run, inputs, args.vote, progress=True if args.progress else None)
    if run.config.data.task == "regression":
        labels = [f"{v:.6g}" for v in logits[:, 0].tolist()]
    else:
        labels = [run.label_names[i] for i in logits.argmax(dim=-1).tolist()]
    rows = [{"text": t, "label": y, "scores": s} for t, y, s in zip(texts, labels, logits.tolist())]
    print_result(rows, args.json, lambda rs: "\n".join(f"{r['label']}\t{r['text']}" for r in rs))
    return 0


def _pairs(texts: list[str]) -> list[tuple[str, str]]:
    """``'TEXT<TAB>PAIR'`` lines as ``(text, pair)`` tuples (the input of a pair run)."""
    bad = [t for t in texts if "\t" not in t]
    if bad:
        raise ValueError(f"this run classifies sentence pairs: give each input as 'TEXT<TAB>PAIR'; got {bad[0]!r}")
    return [tuple(t.split("\t", 1)) for t in texts]


def _read_lines(path: str | None) -> list[str]:
    """Non-empty lines of ``path`` (``'-'``: stdin; ``None``: none)."""
    import sys
    from pathlib import Path

    if path is None:
        return []
    if path != "-" and not Path(path).is_file():
        raise FileNotFoundError(f"--file: no such file: {path}")
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def run_eval(args: argparse.Namespace) -> int:
    from s3t_train.evaluation import evaluate

    run = _open(args.run)
    with run.lock.hold(shared=True):
        result = evaluate(run, vote=args.vote, limit=args.limit, progress=True if args.progress else None)
    print_result(result, args.json, lambda r: (
        (f"Pearson {r['pearson']:.4f}; Spearman {r['spearman']:.4f}; MSE {r['mse']:.4f} (n={r['examples']}); " if r["task"] == "regression" else
         f"accuracy {r['accuracy']:.4f} ± {r['accuracy_se']:.4f} (SE, n={r['examples']}); macro F1 {r['macro_f1']:.4f}; MCC {r['mcc']:.4f}; ")
        + f"served prefix {r['served_prefix']}; "
        f"dead shards {r['dead_shards']}; deleted {r['deleted']}"
    ))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from s3t_train.export import export_served

    run = _open(args.run)
    with run.lock.hold(shared=True):
        result = export_served(run, args.out)
    print_result(result, args.json, lambda r: (
        f"exported {len(r['shards'])} shard adapter(s) (served stages, slices in order: {[s['served_stage'] for s in r['shards']]}; "
        f"dead shards {r['dead_shards']}) to {args.out}; load each with peft.PeftModel.from_pretrained"
    ))
    return 0


def run_audit(args: argparse.Namespace) -> int:
    from s3t_train.audit import audit

    result = audit(_open(args.run))
    print_result(result, args.json, lambda r: (
        f"audit {'OK' if r['ok'] else 'FAILED'}: {r['active_stages_checked']} active stages checked against {r['deleted']} deleted ids; "
        f"violations {r['violations']}; files trained on deleted ids {r['tainted_files']}; damaged checkpoints "
        f"{[d['stage'] for d in r['damaged_checkpoints']]}; foreign fingerprints {r['foreign_fingerprints']}; "
        f"deleted ids left in store {r['deleted_in_store']}"
    ))
    return 0 if result["ok"] else 1


def run_retrain(args: argparse.Namespace) -> int:
    from s3t_train.retraining import retrain

    result = retrain(_open(args.run), args.shard, progress=True if args.progress else None)
    print_result(result, args.json, lambda r: (
        f"shard {r['shard']}: retrained {len(r['stages_retrained'])} stage(s) in {r['seconds']:.1f} s; served prefix {r['served_prefix']}"
    ))
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from s3t_train.evaluation import performance_profile

    run = _open(args.run)
    with run.lock.hold(shared=True):
        rows = performance_profile(run, args.shard, path=args.out, limit=args.limit)
    for k, acc in rows:
        print(f"k={k}\taccuracy={acc:.4f}")
    print(f"wrote {args.out}")
    return 0
