"""tools/bench_score.py: its measurement, table and target check against stand-in servers, and
its refusal of bad arguments. (`make bench-score` itself starts mlflow, which takes half a minute:
it is a benchmark to run and read, not part of this suite.)"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "bench_score.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_score", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@contextmanager
def stand_in_server(requests_seen: list[str], name: str) -> Iterator[str]:
    """An HTTP server that answers every POST with 200 and notes ``name`` in ``requests_seen``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            requests_seen.append(name)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for one.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_servers_take_turns_and_each_gets_its_requests(bench):
    seen: list[str] = []
    with stand_in_server(seen, "a") as a_url, stand_in_server(seen, "b") as b_url:
        targets = [bench.Target("a", a_url, "/score", b"{}"), bench.Target("b", b_url, "/", b"{}")]
        samples = bench.measure(targets, clients=2, requests=16)

    burst = 2 * bench.REQUESTS_PER_CLIENT_PER_ROUND
    assert {name: len(sample.latencies) for name, sample in samples.items()} == {"a": 16, "b": 16}
    assert seen[0 * burst : 1 * burst] == ["a"] * burst
    assert seen[1 * burst : 2 * burst] == ["b"] * burst
    assert seen[2 * burst : 3 * burst] == ["b"] * burst, "the second round starts with b"
    assert all(sample.requests_per_second > 0 for sample in samples.values())


def sample(bench, latency_ms: float, requests: int = 10) -> object:
    return bench.Sample([latency_ms / 1000] * requests, requests * latency_ms / 1000)


def test_the_table_shows_the_ratios_and_missed_targets_are_named(bench):
    fast = bench.Result(
        "trained",
        40.0,
        1,
        {"score.py": sample(bench, 3), "mlflow": sample(bench, 9), "no-op": sample(bench, 2)},
    )
    slow = bench.Result(
        "10x larger",
        400.0,
        8,
        {"score.py": sample(bench, 9), "mlflow": sample(bench, 9), "no-op": sample(bench, 2)},
    )

    table = bench.table([fast, slow]).splitlines()

    assert table[0].startswith("| model | model.onnx | clients | score.py req/s")
    assert table[2] == (
        "| trained | 40 KiB | 1 | 333 | 111 | 500 | 3.00x | 3.00 ms | 9.00 ms | 2.00 ms | 1.50x |"
    )
    assert bench.missed_targets([fast]) == []
    assert bench.missed_targets([slow]) == [
        "10x larger model, 8 client(s): throughput below 1.5x mlflow's",
        "10x larger model, 8 client(s): p50 above 2.0x the no-op floor's",
    ]


def test_an_untrained_model_is_refused_with_exit_2(bench, tmp_path, capsys):
    model_dir = BENCH_SCRIPT.parents[1] / "models" / "model1"
    exit_code = bench.main(["--model-dir", str(model_dir), "--trained-dir", str(tmp_path)])
    assert exit_code == 2
    assert f"no model.onnx in {tmp_path}: train the model first" in capsys.readouterr().err
