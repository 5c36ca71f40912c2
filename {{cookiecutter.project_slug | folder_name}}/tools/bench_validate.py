"""Benchmark `mlops validate` against its floor: importing azure-ai-ml and loading one spec.

    python tools/bench_validate.py [--rounds 5] [--spec A_JOB_SPEC]

Each round runs, in fresh interpreters and in alternating order, `python -m mlops validate` on the
project and `python -c "import azure.ai.ml; load_job(SPEC)"`, which every validation pays for
before it checks anything. Prints the median wall time of each, their ratio and the spread, as a
Markdown table. A benchmark to read, not a test: it exits 0 whatever the figures (1 when a run
fails, 2 for bad arguments).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = "models/model1/aml_config/train-amlcompute.yml"
FLOOR = (
    "import logging, sys, azure.ai.ml; "
    "logging.getLogger('azure.ai.ml').setLevel(logging.ERROR); "
    "azure.ai.ml.load_job(sys.argv[1])"
)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each (default: 5)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="the job spec the floor loads")
    args = parser.parse_args(argv)
    if args.rounds < 1 or not (PROJECT_ROOT / args.spec).is_file():
        parser.error("--rounds must be at least 1 and --spec a job spec of the project")
    commands = {
        "mlops validate": [sys.executable, "-m", "mlops", "validate"],
        "import azure.ai.ml + load one spec": [sys.executable, "-c", FLOOR, args.spec],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    timed(commands["mlops validate"])  # warms the file cache and the bytecode of both
    for round_number in range(args.rounds):
        order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
        for name in order:
            times[name].append(timed(commands[name]))
    validate, floor = (statistics.median(times[name]) for name in commands)
    print(f"{args.rounds} rounds, alternating; median wall time (min-max)\n")
    print("| run | seconds |\n|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.2f} ({min(runs):.2f}-{max(runs):.2f}) |")
    print(f"\nratio validate / floor: {validate / floor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
