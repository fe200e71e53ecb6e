"""The README's quick start, run as a script so that it cannot drift from what runs.

The ```bash block under "## Quick start" is read from README.md, continuation lines are
joined, and every `s3t` command runs in order in one fresh interpreter (cwd: a temporary
folder; the README's ``../shared/data`` points at the project's data). Only the sizes shrink,
by the substitutions below, each of which must still match the README; the ids of
`s3t delete` are the README's own, so they must be held by the README's `--limit` run.
"""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

# (README text, replacement): smaller Monte Carlo runs, grids and figures; the random `tiny` model for training.
SMALLER = [
    ("--runs 100000", "--runs 2000"),
    ('s3t bounds --bound "m*L*log(m*L)"', 's3t bounds --grid tiny --runs 300 --bound "m*L*log(m*L)"'),
    ("s3t figures --out out/figures", "s3t figures --out out/figures --size small"),
    ("s3t report --out out", "s3t report --out out --size small"),
    ("--limit 900 --out runs/demo", "--limit 900 --model tiny --out runs/demo"),
    ("s3t validate --size small", "s3t validate --size tiny --datasets sst2"),
    ("s3t deletion-curves --size small", "s3t deletion-curves --size tiny"),
    ("../shared/data", str(DATA)),
]
PLACEHOLDER = "..."  # `s3t train ... --backend ray`: a pattern, not a command

DRIVER = """
import json, shlex, sys
from analysis.cli import main
results = []
for line in json.loads(sys.argv[1]):
    try:
        code = main(shlex.split(line)[1:])
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    results.append({"command": line, "code": code})
    print("RESULT " + json.dumps(results[-1]), flush=True)
"""


def quick_start_commands(readme: str) -> list[str]:
    """The `s3t` commands of the README's quick start block, comments dropped, continuations joined."""
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [re.sub(r"\s+#.*$", "", ln).strip() for ln in joined.splitlines()]
    return [ln for ln in lines if ln.startswith("s3t ")]


@pytest.mark.slow
def test_readme_quick_start_runs(tmp_path):
    if not (DATA / "sst2" / "train.tsv").is_file():
        pytest.fail(f"the quick start's data set is missing: {DATA / 'sst2'} (see the README's install section)")
    text = (ROOT / "README.md").read_text()
    commands = [c for c in quick_start_commands(text) if PLACEHOLDER not in c]
    script = "\n".join(commands)
    for old, new in SMALLER:
        assert old in script, f"the README quick start no longer contains {old!r}: update SMALLER in this test"
        script = script.replace(old, new)
    commands = script.splitlines()
    assert any(c.startswith("s3t delete") for c in commands) and any(c.startswith("s3t report") for c in commands)
    env = {"PYTHONPATH": str(ROOT), "S3T_TORCH_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    results = [json.loads(ln[len("RESULT "):]) for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    failed = [r["command"] for r in results if r["code"] != 0]
    assert proc.returncode == 0 and len(results) == len(commands) and not failed, (failed, proc.stderr[-3000:])
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "figures" / "data_dictionary.csv").is_file()
    assert (tmp_path / "out" / "plan" / "plan_pareto.png").is_file() and (tmp_path / "runs" / "demo" / "config.json").is_file()


def test_quick_start_parser_reads_the_block():
    commands = quick_start_commands((ROOT / "README.md").read_text())
    assert commands[0].startswith("s3t simulate --shards 20") and "--json" not in commands[0]  # continuation joined, comment dropped
    assert all(shlex.split(c)[0] == "s3t" for c in commands)
