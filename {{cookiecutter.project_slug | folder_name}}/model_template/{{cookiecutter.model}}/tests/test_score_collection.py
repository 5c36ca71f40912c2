"""score.py's data collection through the real azureml-ai-monitoring library, without Azure.

The library posts what it collects to the deployment's collector agent (``AZUREML_MDC_HOST`` and
``AZUREML_MDC_PORT``, a sidecar of the deployment in Azure ML). Here a loopback HTTP server stands
in for that agent and records what the library sent; collection is switched on the way Azure ML
switches it on, with a collection settings file named by ``AZUREML_MDC_CONFIG_PATH``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Request
from werkzeug.test import EnvironBuilder

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
AGENT_PATH = "/modeldata/log"
BOTH_COLLECTIONS = ("model_inputs", "model_outputs")
ARRIVAL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.05
# Settings of the library that must not leak in from the machine running the tests.
LIBRARY_SETTINGS = (
    "AZUREML_MDC_CONFIG_PATH",
    "AZUREML_MDC_ENABLED",
    "AZUREML_MDC_HOST",
    "AZUREML_MDC_PORT",
    "AZUREML_MDC_WORKER_DISABLED",
    "AZUREML_MDC_QUEUE_CAPACITY",
    "AZUREML_MDC_LOCAL_CAPTURE",
    "AZUREML_MDC_FORMAT_COMPACT",
    "AZUREML_MDC_SAMPLE_RATE",
)


@dataclass
class Posted:
    """One payload the library sent to the agent: its collection, correlation id and rows."""

    collection: str
    correlation_id: str | None
    rows: list[dict]


@dataclass
class Agent:
    """The stand-in collector agent: the address it listens on and what it received."""

    host: str
    port: int
    received: list[Posted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posted(self) -> list[Posted]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int) -> list[Posted]:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
        while len(self.posted()) < count and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return self.posted()


@pytest.fixture
def agent() -> Iterator[Agent]:
    recorder: Agent | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == AGENT_PATH:
                collection = self.headers["ce-type"].removeprefix("azureml.inference.")
                posted = Posted(collection, self.headers.get("ce-x-request-id"), json.loads(body))
                with recorder.lock:
                    recorder.received.append(posted)
            self.send_response(200 if self.path == AGENT_PATH else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Agent(*server.server_address[:2])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def library(monkeypatch) -> Iterator:
    """The collector library with none of its settings from the machine; its queue, worker thread
    and settings torn down after the test (it keeps them for the whole process)."""
    for name in LIBRARY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    from azureml.ai.monitoring import init as library_state

    yield library_state
    library_state.teardown()


def collect_to(environment, agent: Agent, folder: Path, collections=BOTH_COLLECTIONS) -> None:
    """Switch collection on as Azure ML does: a settings file of the collections that are on,
    and the agent's address."""
    settings = folder / "mdc-config.json"
    on = {name: {"enabled": True, "sampleRatePercentage": 100} for name in collections}
    settings.write_text(json.dumps({"collections": on}), encoding="utf-8")
    environment.setenv("AZUREML_MDC_CONFIG_PATH", str(settings))
    environment.setenv("AZUREML_MDC_HOST", agent.host)
    environment.setenv("AZUREML_MDC_PORT", str(agent.port))


def post(payload: object) -> Request:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return Request(EnvironBuilder(path="/score", method="POST", data=data).get_environ())


def scored(score_module, payload: object) -> tuple[int, dict]:
    response = score_module.run(post(payload))
    return response.status_code, json.loads(response.get_data())


def flushed(library, agent: Agent) -> list[Posted]:
    """What the agent received once the library sent everything it had queued."""
    library.teardown(wait_for_flush=True)
    return agent.posted()


@pytest.fixture
def started(score_module, trained_model_dir, monkeypatch):
    """start() -> score.py initialised with the trained model under the settings of the test."""

    def start():
        monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
        score_module.init()
        return score_module

    return start


def model_inputs(score_module, rows: list[dict]) -> list[dict]:
    return [{name: row[name] for name in score_module.field_kinds} for row in rows]


def test_collection_on_records_each_scored_requests_inputs_and_outputs(
    library, agent, started, monkeypatch, tmp_path, sample_request
):
    collect_to(monkeypatch, agent, tmp_path)
    score_module = started()
    assert set(score_module.collectors) == set(BOTH_COLLECTIONS)
    rows = [{**row, "note": "a field the model ignores"} for row in sample_request["data"]]

    status, answer = scored(score_module, {"data": rows})
    assert status == 200, answer
    second_status, _ = scored(score_module, {"data": rows[:1]})
    assert second_status == 200

    posted = flushed(library, agent)
    assert [p.collection for p in posted] == ["model_inputs", "model_outputs"] * 2
    inputs, outputs = posted[0], posted[1]
    assert inputs.rows == model_inputs(score_module, rows)
    assert outputs.rows == [
        {score_module.PREDICTION_COLUMN: prediction} for prediction in answer["predictions"]
    ]
    # The inputs and outputs of one request share a correlation id, which the next one does not.
    assert inputs.correlation_id and inputs.correlation_id == outputs.correlation_id
    assert posted[2].correlation_id == posted[3].correlation_id != inputs.correlation_id
    assert posted[2].rows == model_inputs(score_module, rows[:1])


def test_only_the_collections_the_deployment_turns_on_are_recorded(
    library, agent, started, monkeypatch, tmp_path, sample_request, caplog
):
    collect_to(monkeypatch, agent, tmp_path, collections=("model_inputs",))
    score_module = started()
    assert set(score_module.collectors) == {"model_inputs"}

    with caplog.at_level("WARNING"):
        assert scored(score_module, sample_request)[0] == 200

    posted = flushed(library, agent)
    assert [p.collection for p in posted] == ["model_inputs"]
    assert posted[0].rows == model_inputs(score_module, sample_request["data"])
    assert not [r for r in caplog.records if r.name == score_module.logger.name]


def test_a_bad_request_still_answers_400_and_nothing_is_collected(
    library, agent, started, monkeypatch, tmp_path
):
    collect_to(monkeypatch, agent, tmp_path)
    score_module = started()

    status, answer = scored(score_module, {"data": [{"tenure_months": "five"}]})

    assert status == 400
    assert "data[0]" in answer["error"]
    assert flushed(library, agent) == []


def test_collection_off_creates_no_collector_and_records_nothing(
    library, agent, started, monkeypatch, sample_request
):
    # The agent's address alone does not turn collection on.
    monkeypatch.setenv("AZUREML_MDC_HOST", agent.host)
    monkeypatch.setenv("AZUREML_MDC_PORT", str(agent.port))
    created = []

    class RefusedCollector:
        def __init__(self, **settings):
            created.append(settings)
            raise AssertionError("a collector was created with collection off")

    monkeypatch.setattr("azureml.ai.monitoring.Collector", RefusedCollector)
    score_module = started()

    status, answer = scored(score_module, sample_request)

    assert status == 200
    assert len(answer["predictions"]) == len(sample_request["data"])
    assert score_module.collectors == {}
    assert created == []
    assert flushed(library, agent) == []


def test_collection_off_does_not_even_import_the_library(trained_model_dir, tmp_path):
    """In a process of its own: with collection off, scoring loads neither the collector library
    nor pandas (which only collection needs)."""
    program = textwrap.dedent(
        """
        import importlib.util, json, os, sys
        score_script, model_dir, app_root = sys.argv[1:]
        for name in list(os.environ):
            if name.startswith("AZUREML_MDC_"):
                del os.environ[name]
        os.environ["AZUREML_MODEL_DIR"] = model_dir
        os.environ["AML_APP_ROOT"] = app_root
        import azureml_inference_server_http.server
        from flask import Request
        from werkzeug.test import EnvironBuilder
        spec = importlib.util.spec_from_file_location("score", score_script)
        score = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(score)
        score.init()
        row = {name: 1.0 if kind == "number" else "x" for name, kind in score.field_kinds.items()}
        body = json.dumps({"data": [row]}).encode()
        response = score.run(Request(EnvironBuilder(method="POST", data=body).get_environ()))
        loaded = [name for name in ("azureml.ai.monitoring", "pandas") if name in sys.modules]
        print(json.dumps({"status": response.status_code, "loaded": loaded}))
        """
    )
    arguments = [str(SCORE_SCRIPT), str(trained_model_dir), str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-c", program, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"status": 200, "loaded": []}


def test_a_collector_that_drops_rows_is_logged_and_the_request_answered(
    library, started, monkeypatch, sample_request, caplog
):
    # The library's own failure: its queue holds one payload and no worker empties it, so the
    # outputs of the first request and everything after are refused.
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    monkeypatch.setenv("AZUREML_MDC_WORKER_DISABLED", "true")
    monkeypatch.setenv("AZUREML_MDC_QUEUE_CAPACITY", "1")
    score_module = started()

    with caplog.at_level("WARNING", logger=score_module.logger.name):
        answers = [scored(score_module, sample_request) for _ in range(3)]

    assert {status for status, _ in answers} == {200}
    assert answers[0][1] == answers[2][1]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 5
    assert "queue is full" in dropped[0]


def test_an_error_inside_collection_never_fails_the_request(
    library, agent, started, monkeypatch, tmp_path, sample_request, caplog
):
    collect_to(monkeypatch, agent, tmp_path)
    score_module = started()
    _, expected = scored(score_module, sample_request)

    def broken(data, correlation_context=None):
        raise RuntimeError("the collector broke")

    monkeypatch.setattr(score_module.collectors["model_inputs"], "collect", broken)
    with caplog.at_level("ERROR", logger=score_module.logger.name):
        status, answer = scored(score_module, sample_request)

    assert (status, answer) == (200, expected)
    assert any("Data collection failed" in r.getMessage() for r in caplog.records)


def test_the_collected_prediction_column_is_the_training_datas_label(score_module, train_module):
    assert score_module.PREDICTION_COLUMN == train_module.TARGET


def test_the_inference_server_collects_what_it_scores(
    library,
    agent,
    serve_local,
    onnx_scorer,
    trained_model_dir,
    monkeypatch,
    tmp_path,
    sample_request,
):
    """score.py behind a real azmlinfsrv, collection on as in a deployment: the rows reach the
    agent from the server's own process."""
    collect_to(monkeypatch, agent, tmp_path)
    with serve_local.running_server(trained_model_dir, entry_script=SCORE_SCRIPT) as base_url:
        status, answer = serve_local.http_request(
            f"{base_url}/score", json.dumps(sample_request).encode("utf-8")
        )
        assert status == 200, answer
        posted = agent.wait_for(2)

    assert sorted(p.collection for p in posted) == sorted(BOTH_COLLECTIONS)
    by_collection = {p.collection: p.rows for p in posted}
    assert by_collection["model_inputs"] == model_inputs(onnx_scorer, sample_request["data"])
    assert by_collection["model_outputs"] == [
        {onnx_scorer.PREDICTION_COLUMN: prediction}
        for prediction in json.loads(answer)["predictions"]
    ]
