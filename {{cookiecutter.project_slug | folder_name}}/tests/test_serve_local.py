"""tools/serve_local.py, the local inference server runner of `make score-local` and
`make serve-local`: a real azmlinfsrv started on a scoring script written here, so that the tool's
own behaviour is tested once (each model's tests serve that model through it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "serve_local.py"
# Answers the number of rows it was sent, or 400 for none; refuses to start without its model file.
ENTRY_SCRIPT = """
import json
import os
from pathlib import Path

from azureml.contrib.services.aml_request import rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    model = Path(os.environ["AZUREML_MODEL_DIR"]) / "model.txt"
    if not model.is_file():
        raise FileNotFoundError(f"no model.txt in {model.parent}")


@rawhttp
def run(request):
    rows = json.loads(request.get_data())["data"]
    if not rows:
        return AMLResponse({"error": "no rows"}, 400, {}, json_str=True)
    return AMLResponse({"rows": len(rows)}, 200, {}, json_str=True)
"""


@pytest.fixture(scope="module")
def serve_local():
    spec = importlib.util.spec_from_file_location("serve_local_under_test", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scoring(tmp_path) -> tuple[Path, Path]:
    """(entry script, model folder)."""
    entry_script = tmp_path / "score.py"
    entry_script.write_text(ENTRY_SCRIPT, encoding="utf-8")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.txt").write_text("a model", encoding="utf-8")
    return entry_script, model_dir


def request_file(tmp_path: Path, rows: list) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"data": rows}), encoding="utf-8")
    return path


def main(serve_local, entry_script: Path, model_dir: Path, request: Path) -> int:
    return serve_local.main(
        ["--entry-script", str(entry_script), "--model-dir", str(model_dir)]
        + ["--request", str(request)]
    )


def test_it_prints_the_answer_to_a_request(serve_local, scoring, tmp_path, capsys):
    exit_code = main(serve_local, *scoring, request_file(tmp_path, [{"x": 1}, {"x": 2}]))

    assert exit_code == 0
    assert json.loads(capsys.readouterr().out) == {"rows": 2}


def test_it_fails_on_an_answer_other_than_200(serve_local, scoring, tmp_path, capsys):
    exit_code = main(serve_local, *scoring, request_file(tmp_path, []))

    output = capsys.readouterr()
    assert exit_code == 1
    assert json.loads(output.out) == {"error": "no rows"}
    assert "HTTP 400" in output.err


def test_a_server_that_cannot_start_reports_its_output(serve_local, scoring, tmp_path):
    entry_script, _ = scoring
    without_model = tmp_path / "empty"
    without_model.mkdir()
    with pytest.raises(serve_local.ServerError, match="no model.txt in"):
        with serve_local.running_server(without_model, entry_script=entry_script):
            pass


@pytest.mark.parametrize("missing", ["entry script", "model folder", "request"])
def test_missing_files_are_refused_with_exit_2(serve_local, scoring, tmp_path, missing, capsys):
    entry_script, model_dir = scoring
    request = request_file(tmp_path, [{"x": 1}])
    paths = {"entry script": entry_script, "model folder": model_dir, "request": request}
    paths[missing] = tmp_path / "nowhere"

    assert main(serve_local, *paths.values()) == 2
    assert "does not exist" in capsys.readouterr().err
