"""Benchmark a model's scoring server against `mlflow models serve` and the server's own floor.

    python tools/bench_score.py --model-dir models/model1 --trained-dir outputs/model1/model

Starts, each with one worker on a free loopback port:
- the model's server: azmlinfsrv with the model's score.py on the trained model;
- `mlflow models serve` on the same fitted pipeline (its model.pkl saved as an MLflow model);
- the floor: azmlinfsrv with tools/noop_score.py, which reads the request and answers a constant.
Then it POSTs the model's sample request to each, alternating between the servers round by round,
first from one client and then from several concurrent ones, and prints throughput and median
latency per server with the ratios, as a Markdown table. It does the same for a model ten times
larger: trained for the run by the model's train.py with ``--larger-train-args`` (default: ten
times train.py's 150 boosting stages, so ten times the trees).

A benchmark to read, not a test: it exits 0 whatever the figures; 1 when a server fails to start
or answers an error, 2 for bad arguments. HTTP goes through the standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import logging
import math
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

TOOLS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TOOLS_DIR.parent
NOOP_SCORE = TOOLS_DIR / "noop_score.py"
SAMPLE_REQUEST = Path("deployment") / "sample-request.json"
ONNX_MODEL_FILE, PICKLED_MODEL_FILE = "model.onnx", "model.pkl"
DEFAULT_LARGER_TRAIN_ARGS = "--n-estimators 1500"
SCORE, MLFLOW, NOOP = "score.py", "mlflow", "no-op"  # the servers compared
# Each round sends every server this many requests per client, servers in a rotating order.
REQUESTS_PER_CLIENT_PER_ROUND = 4
WARMUP_REQUESTS = 20
REQUEST_TIMEOUT_SECONDS = 30.0
STARTUP_TIMEOUT_SECONDS = 120.0
POLL_INTERVAL_SECONDS = 0.2
LOG_TAIL_LINES = 40
THROUGHPUT_TARGET = 1.5  # at least this many times mlflow's requests per second
P50_TARGET = 2.0  # a median latency at most this many times the floor's
# Settings that would send the larger model's training run to a tracking server.
OUTSIDE_SETTINGS = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "AZUREML_RUN_ID")
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def load_serve_local() -> ModuleType:
    """The project's local inference server runner (azmlinfsrv start, health wait, stop)."""
    path = TOOLS_DIR / "serve_local.py"
    spec = importlib.util.spec_from_file_location("serve_local", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_local = load_serve_local()


class BenchError(RuntimeError):
    """A server could not be started or answered an error; the message says which."""


@dataclass(frozen=True)
class Target:
    """One server under test and the request it is sent."""

    name: str
    base_url: str
    path: str
    body: bytes


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.busy_seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


@dataclass(frozen=True)
class Result:
    model: str
    model_kib: float
    clients: int
    by_server: dict[str, Sample]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare a model's scoring server with mlflow models serve and a no-op floor."
    )
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="the model's code folder (models/<name>)"
    )
    parser.add_argument(
        "--trained-dir",
        type=Path,
        required=True,
        help="the trained model (outputs/<name>, written by make train-local)",
    )
    parser.add_argument(
        "--data-path",
        type=Path,
        default=PROJECT_ROOT / "sample-data",
        help="training data of the larger model (default: sample-data)",
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=400,
        help="requests to each server per client count (default: 400)",
    )
    parser.add_argument(
        "--clients", type=positive_int, default=8, help="concurrent clients (default: 8)"
    )
    parser.add_argument(
        "--larger-train-args",
        default=DEFAULT_LARGER_TRAIN_ARGS,
        help=f"train.py arguments of the larger model (default: {DEFAULT_LARGER_TRAIN_ARGS!r}); "
        "empty to benchmark the trained model only",
    )
    return parser.parse_args(argv)


def argument_problems(args: argparse.Namespace) -> list[str]:
    problems = [
        f"{path} does not exist"
        for path in (
            args.model_dir / "score.py",
            args.model_dir / "train.py",
            args.model_dir / SAMPLE_REQUEST,
        )
        if not path.is_file()
    ]
    for model_file in (ONNX_MODEL_FILE, PICKLED_MODEL_FILE):
        if not (args.trained_dir / model_file).is_file():
            problems.append(f"no {model_file} in {args.trained_dir}: train the model first")
    if args.larger_train_args and not args.data_path.exists():
        problems.append(f"training data {args.data_path} does not exist")
    return problems


def post(target: Target) -> float:
    """Seconds from sending the request to reading the whole answer, on a new connection."""
    address = urlsplit(target.base_url)
    connection = http.client.HTTPConnection(
        address.hostname, address.port, timeout=REQUEST_TIMEOUT_SECONDS
    )
    try:
        started = time.perf_counter()
        connection.request("POST", target.path, target.body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - started
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{target.name} did not answer: {exc!r}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"{target.name} answered HTTP {response.status}: {answer[:300]!r}")
    return elapsed


def send_burst(target: Target, clients: int, pool: ThreadPoolExecutor) -> Sample:
    """``clients`` clients at once, each sending its requests one after the other."""

    def one_client(_: int) -> list[float]:
        return [post(target) for _ in range(REQUESTS_PER_CLIENT_PER_ROUND)]

    started = time.perf_counter()
    latencies = [latency for batch in pool.map(one_client, range(clients)) for latency in batch]
    return Sample(latencies, time.perf_counter() - started)


def measure(targets: list[Target], clients: int, requests: int) -> dict[str, Sample]:
    """Send each target about ``requests`` requests, the targets taking turns round by round."""
    samples = {target.name: Sample() for target in targets}
    rounds = math.ceil(requests / (clients * REQUESTS_PER_CLIENT_PER_ROUND))
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for round_number in range(rounds):
            turn = round_number % len(targets)
            for target in targets[turn:] + targets[:turn]:
                burst = send_burst(target, clients, pool)
                samples[target.name].latencies.extend(burst.latencies)
                samples[target.name].busy_seconds += burst.busy_seconds
    return samples


def warm_up(targets: list[Target]) -> None:
    for target in targets:
        for _ in range(WARMUP_REQUESTS):
            post(target)


def read_log_tail(log) -> str:
    return serve_local.read_log(log, LOG_TAIL_LINES)


def wait_until_ready(process: subprocess.Popen, log, url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"mlflow models serve exited with code {process.returncode}; its output:\n"
                f"{read_log_tail(log)}"
            )
        with suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            if serve_local.http_request(url)[0] == 200:
                return
        time.sleep(POLL_INTERVAL_SECONDS)
    raise BenchError(
        f"mlflow models serve was not ready at {url} within {STARTUP_TIMEOUT_SECONDS:.0f} s; "
        f"its output:\n{read_log_tail(log)}"
    )


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop the server and the uvicorn process it runs in its own session."""
    if hasattr(os, "killpg") and process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    serve_local.stop(process)


def save_mlflow_model(trained_dir: Path, target: Path) -> Path:
    """The trained pipeline as an MLflow model whose pyfunc answers probabilities."""
    # Imported here: they take seconds, and bad arguments should fail before that.
    import joblib
    import mlflow.sklearn

    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)  # its caution about pickles
    pipeline = joblib.load(trained_dir / PICKLED_MODEL_FILE)
    # Saved as the pickle it came from: mlflow's default (skops) refuses to reload tree models.
    mlflow.sklearn.save_model(
        pipeline,
        target,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
        pyfunc_predict_fn="predict_proba",
    )
    return target


@contextmanager
def running_mlflow_server(trained_dir: Path, mlflow_model: Path) -> Iterator[str]:
    """``mlflow models serve`` with one worker on a free port, serving the trained pipeline saved
    as an MLflow model at ``mlflow_model``; yields its base URL."""
    save_mlflow_model(trained_dir, mlflow_model)
    port = serve_local.free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "--model-uri",
        str(mlflow_model),
        "--env-manager",
        "local",
        "--host",
        serve_local.HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # mlflow starts uvicorn by name: it must be found beside this interpreter.
    search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, "PATH": search_path},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://{serve_local.HOST}:{port}"
        try:
            wait_until_ready(process, log, f"{base_url}/ping")
            yield base_url
        finally:
            stop_process_group(process)


def enter_concurrently(stack: ExitStack, servers: dict) -> dict:
    """Enter every context manager of ``servers`` at once (each server takes seconds to start)
    and push their exits on ``stack``; returns what each yielded, under the same key."""
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = {key: pool.submit(server.__enter__) for key, server in servers.items()}
    entered, failure = {}, None
    for key, future in futures.items():
        try:
            entered[key] = future.result()
        except Exception as exc:  # the servers that did start are still stopped
            failure = failure or exc
        else:
            stack.push(servers[key].__exit__)
    if failure is not None:
        raise failure
    return entered


def train_larger_model(args: argparse.Namespace, output_dir: Path) -> Path:
    command = [
        sys.executable,
        str(args.model_dir / "train.py"),
        "--data-path",
        str(args.data_path),
        "--output-dir",
        str(output_dir),
        *shlex.split(args.larger_train_args),
    ]
    environment = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    print(f"training the larger model: {shlex.join(command[1:])}", file=sys.stderr, flush=True)
    result = subprocess.run(
        command, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchError(f"training the larger model failed:\n{result.stdout}{result.stderr}")
    return output_dir


def requests_for(model_dir: Path) -> tuple[bytes, bytes]:
    """The sample request as score.py takes it, and as mlflow's /invocations takes it."""
    body = (model_dir / SAMPLE_REQUEST).read_bytes()
    rows = json.loads(body)["data"]
    return body, json.dumps({"dataframe_records": rows}).encode("utf-8")


def run_benchmark(args: argparse.Namespace) -> list[Result]:
    os.environ.update(TELEMETRY_OFF)  # for mlflow here and in the servers
    score_body, mlflow_body = requests_for(args.model_dir)
    with tempfile.TemporaryDirectory(prefix="bench-score-") as work, ExitStack() as stack:
        work_dir = Path(work)
        models = {"trained": args.trained_dir}
        if args.larger_train_args:
            models["10x larger"] = train_larger_model(args, work_dir / "larger")
        servers = {NOOP: serve_local.running_server(args.trained_dir, entry_script=NOOP_SCORE)}
        for label, trained_dir in models.items():
            servers[label, SCORE] = serve_local.running_server(
                trained_dir, entry_script=args.model_dir / "score.py"
            )
            servers[label, MLFLOW] = running_mlflow_server(
                trained_dir, work_dir / f"mlflow-{label}"
            )
        print(f"starting {len(servers)} servers", file=sys.stderr, flush=True)
        urls = enter_concurrently(stack, servers)
        results = []
        for label, trained_dir in models.items():
            targets = [
                Target(SCORE, urls[label, SCORE], "/score", score_body),
                Target(MLFLOW, urls[label, MLFLOW], "/invocations", mlflow_body),
                Target(NOOP, urls[NOOP], "/score", score_body),
            ]
            warm_up(targets)
            model_kib = (trained_dir / ONNX_MODEL_FILE).stat().st_size / 1024
            for clients in sorted({1, args.clients}):
                print(
                    f"measuring the {label} model, {clients} client(s)", file=sys.stderr, flush=True
                )
                results.append(
                    Result(label, model_kib, clients, measure(targets, clients, args.requests))
                )
        return results


def table(results: list[Result]) -> str:
    header = (
        "| model | model.onnx | clients | score.py req/s | mlflow req/s | no-op req/s "
        "| score.py / mlflow | p50 score.py | p50 mlflow | p50 no-op | p50 score.py / no-op |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for result in results:
        score, mlflow, floor = (result.by_server[name] for name in (SCORE, MLFLOW, NOOP))
        lines.append(
            f"| {result.model} | {result.model_kib:.0f} KiB | {result.clients} "
            f"| {score.requests_per_second:.0f} | {mlflow.requests_per_second:.0f} "
            f"| {floor.requests_per_second:.0f} "
            f"| {score.requests_per_second / mlflow.requests_per_second:.2f}x "
            f"| {score.p50_ms:.2f} ms | {mlflow.p50_ms:.2f} ms | {floor.p50_ms:.2f} ms "
            f"| {score.p50_ms / floor.p50_ms:.2f}x |"
        )
    return "\n".join(lines)


def missed_targets(results: list[Result]) -> list[str]:
    missed = []
    for result in results:
        score, mlflow, floor = (result.by_server[name] for name in (SCORE, MLFLOW, NOOP))
        where = f"{result.model} model, {result.clients} client(s)"
        if score.requests_per_second < THROUGHPUT_TARGET * mlflow.requests_per_second:
            missed.append(f"{where}: throughput below {THROUGHPUT_TARGET}x mlflow's")
        if score.p50_ms > P50_TARGET * floor.p50_ms:
            missed.append(f"{where}: p50 above {P50_TARGET}x the no-op floor's")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = argument_problems(args)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        results = run_benchmark(args)
    except (BenchError, serve_local.ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(table(results))
    missed = missed_targets(results)
    targets = f"throughput >= {THROUGHPUT_TARGET}x mlflow's, p50 <= {P50_TARGET}x the no-op floor's"
    print(f"\ntargets ({targets}): " + ("all met" if not missed else "; ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
