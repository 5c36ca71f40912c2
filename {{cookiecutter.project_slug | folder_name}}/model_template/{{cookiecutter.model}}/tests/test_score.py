"""score.py behind a real azmlinfsrv over HTTP (its answers, its /swagger.json), and
serve_local.py that runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pandas as pd
import pytest
from flask import Request
from jsonschema import Draft4Validator
from openapi_spec_validator import OpenAPIV2SpecValidator
from werkzeug.test import EnvironBuilder

MODEL_CODE_DIR = Path(__file__).resolve().parents[1]
SCORE_SCRIPT = MODEL_CODE_DIR / "score.py"
SAMPLE_REQUEST = MODEL_CODE_DIR / "deployment" / "sample-request.json"
README = MODEL_CODE_DIR / "README.md"

ROW = {
    "tenure_months": 5,
    "monthly_charges": 79.5,
    "contract": "month-to-month",
    "internet_service": "fiber",
    "payment_method": "electronic-check",
    "support_calls": 3,
    "senior_citizen": 0,
}


def body(payload: object) -> bytes:
    return json.dumps(payload).encode("utf-8")


def without(field: str) -> dict:
    return {key: value for key, value in ROW.items() if key != field}


def with_raw_field(field: str, json_text: str) -> bytes:
    """A one-row body whose ``field`` is written as ``json_text``, which json.dumps cannot write."""
    return body({"data": [{**ROW, field: "RAW"}]}).replace(b'"RAW"', json_text.encode("ascii"))


# id: (request body, the message must contain)
BAD_REQUESTS = {
    "malformed-json": (b'{"data": [', "request body is not valid JSON"),
    "not-utf8": (b"\xff\xfe\x00", "request body is not valid JSON"),
    "not-an-object": (body([ROW]), 'a JSON object with a "data" list'),
    "no-data": (body({"rows": [ROW]}), 'a JSON object with a "data" list'),
    "data-not-a-list": (body({"data": ROW}), '"data" must be a list of rows, got object'),
    "empty-batch": (body({"data": []}), '"data" is empty'),
    "too-many-rows": (body({"data": [ROW] * 1001}), "at most 1000 per request"),
    "row-not-an-object": (body({"data": [ROW, [5]]}), "data[1] must be an object"),
    "missing-field": (body({"data": [ROW, without("contract")]}), "data[1].contract is missing"),
    "string-for-a-number": (
        body({"data": [{**ROW, "tenure_months": "5"}]}),
        'data[0].tenure_months must be a number, got string "5"',
    ),
    "boolean-for-a-number": (
        body({"data": [{**ROW, "senior_citizen": True}]}),
        "data[0].senior_citizen must be a number, got boolean",
    ),
    "null-for-a-number": (
        body({"data": [ROW, {**ROW, "monthly_charges": None}]}),
        "data[1].monthly_charges must be a number, got null",
    ),
    "not-a-finite-number": (
        b'{"data": [{"tenure_months": NaN, "monthly_charges": 1, "contract": "one-year", '
        b'"internet_service": "dsl", "payment_method": "card", "support_calls": 0, '
        b'"senior_citizen": 0}]}',
        "data[0].tenure_months must be a finite number",
    ),
    "nested-too-deeply": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "number-for-a-category": (
        body({"data": [{**ROW, "contract": 12}]}),
        "data[0].contract must be a string, got number 12",
    ),
    "integer-of-400-digits": (
        with_raw_field("tenure_months", "1" + "0" * 400),
        "data[0].tenure_months must be a finite number",
    ),
    "integer-of-5000-digits": (
        with_raw_field("support_calls", "9" * 5000),
        "data[0].support_calls must be a finite number",
    ),
    "number-beyond-32-bit-floats": (
        with_raw_field("monthly_charges", "1e39"),
        "data[0].monthly_charges must be a finite number between",
    ),
    "unpaired-surrogate": (
        with_raw_field("payment_method", '"card\\ud800"'),
        "data[0].payment_method must be text",
    ),
    "long-text-for-a-number": (
        body({"data": [{**ROW, "tenure_months": "x" * 100_000}]}),
        'data[0].tenure_months must be a number, got string "xxxxxxxx',
    ),
}


def post_request(payload: bytes) -> Request:
    """What the server hands to run() for a POST of ``payload`` to /score."""
    return Request(EnvironBuilder(path="/score", method="POST", data=payload).get_environ())


def post_score(serve_local, base_url: str, payload: bytes) -> tuple[int, dict]:
    status, answer = serve_local.http_request(f"{base_url}/score", payload)
    return status, json.loads(answer)


def test_the_sample_request_is_scored(serve_local, scoring_url, sample_request, trained_model_dir):
    status, answer = post_score(serve_local, scoring_url, body(sample_request))
    assert status == 200, answer
    rows = sample_request["data"]
    assert len(answer["predictions"]) == len(answer["probabilities"]) == len(rows)
    assert set(answer["predictions"]) <= {0, 1}
    assert all(0.0 <= probability <= 1.0 for probability in answer["probabilities"])
    model = joblib.load(trained_model_dir / "model.pkl")
    expected = model.predict_proba(pd.DataFrame(rows))[:, 1]
    assert answer["probabilities"] == pytest.approx(expected.tolist(), rel=0, abs=1e-5)
    assert answer["predictions"] == model.predict(pd.DataFrame(rows)).tolist()


def test_tiny_and_negative_zero_numbers_are_scored(serve_local, scoring_url):
    payload = with_raw_field("monthly_charges", "1e-400").replace(
        b'"senior_citizen": 0', b'"senior_citizen": -0.0'
    )
    status, answer = post_score(serve_local, scoring_url, payload)
    assert status == 200, answer
    assert len(answer["predictions"]) == 1


def test_an_unseen_category_is_scored(serve_local, scoring_url):
    status, answer = post_score(
        serve_local, scoring_url, body({"data": [{**ROW, "contract": "three-year"}]})
    )
    assert status == 200, answer
    assert len(answer["predictions"]) == 1


@pytest.mark.parametrize(("payload", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_answers_400_naming_the_problem(serve_local, scoring_url, payload, message):
    status, answer = post_score(serve_local, scoring_url, payload)
    assert status == 400
    assert message in answer["error"]


def test_get_on_score_answers_405(serve_local, scoring_url):
    status, answer = serve_local.http_request(f"{scoring_url}/score")
    assert status == 405
    assert "POST" in json.loads(answer)["error"]


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH"])
def test_other_methods_answer_405(serve_local, scoring_url, method):
    status, _ = serve_local.http_request(f"{scoring_url}/score", b"{}", method=method)
    assert status == 405


def test_a_body_over_the_size_limit_answers_413(serve_local, scoring_url, score_module):
    payload = body({"data": [{**ROW, "note": "x" * score_module.MAX_BODY_BYTES}]})
    status, answer = post_score(serve_local, scoring_url, payload)
    assert status == 413
    assert f"at most {score_module.MAX_BODY_BYTES}" in answer["error"]


def served_swagger(serve_local, scoring_url) -> dict:
    status, document = serve_local.http_request(f"{scoring_url}/swagger.json")
    assert status == 200
    return json.loads(document)


def schema_validator(swagger: dict, definition: str) -> Draft4Validator:
    """A validator of one of the swagger's definitions (OpenAPI 2 schemas are JSON Schema 4)."""
    schema = {"$ref": f"#/definitions/{definition}", "definitions": swagger["definitions"]}
    return Draft4Validator(schema)


def test_swagger_json_is_an_openapi_2_document_of_the_models_fields(
    serve_local, scoring_url, onnx_scorer
):
    swagger = served_swagger(serve_local, scoring_url)
    OpenAPIV2SpecValidator(swagger).validate()
    row = swagger["definitions"]["Row"]
    assert row["required"] == list(onnx_scorer.field_kinds)
    assert {name: field["type"] for name, field in row["properties"].items()} == (
        onnx_scorer.field_kinds
    )
    data = swagger["definitions"]["ScoringRequest"]["properties"]["data"]
    assert data["maxItems"] == onnx_scorer.MAX_BATCH_ROWS
    score = swagger["paths"]["/score"]["post"]
    for status in ("400", "405", "413", "500"):
        assert score["responses"][status]["schema"] == {"$ref": "#/definitions/Error"}


def test_the_readme_shows_the_contract_the_server_publishes(serve_local, scoring_url):
    swagger = served_swagger(serve_local, scoring_url)
    section = README.read_text(encoding="utf-8").split("## Scoring contract", 1)[1]
    (row_line,) = [line for line in section.splitlines() if line.startswith("| row |")]
    fields = swagger["definitions"]["Row"]["properties"]
    for kind in ("number", "string"):
        names = ", ".join(f"`{name}`" for name, field in fields.items() if field["type"] == kind)
        assert f"{kind}s {names}" in row_line
    data = swagger["definitions"]["ScoringRequest"]["properties"]["data"]
    assert f"{data['minItems']} to {data['maxItems']} rows" in section


def test_swagger_json_describes_the_real_request_answer_and_error(
    serve_local, scoring_url, sample_request
):
    swagger = served_swagger(serve_local, scoring_url)
    schema_validator(swagger, "ScoringRequest").validate(sample_request)
    status, answer = post_score(serve_local, scoring_url, body(sample_request))
    assert status == 200
    schema_validator(swagger, "ScoringResponse").validate(answer)
    status, error = post_score(serve_local, scoring_url, body({"data": []}))
    assert status == 400
    schema_validator(swagger, "Error").validate(error)
    assert not schema_validator(swagger, "ScoringRequest").is_valid({"data": []})


def test_the_server_keeps_serving_after_bad_requests(serve_local, scoring_url, sample_request):
    for payload, _ in BAD_REQUESTS.values():
        assert post_score(serve_local, scoring_url, payload)[0] == 400
    assert serve_local.is_healthy(scoring_url)
    status, answer = post_score(serve_local, scoring_url, body(sample_request))
    assert status == 200
    assert len(answer["predictions"]) == len(sample_request["data"])


def test_init_finds_the_model_in_a_registered_model_folder(
    score_module, trained_model_dir, tmp_path, monkeypatch, sample_request
):
    registered = tmp_path / "azureml-models" / "churn" / "3"
    (registered / "model_output").mkdir(parents=True)
    shutil.copy(trained_model_dir / "model.onnx", registered / "model_output" / "model.onnx")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(registered))

    score_module.init()
    response = score_module.run(post_request(body(sample_request)))

    assert response.status_code == 200
    assert len(json.loads(response.get_data())["predictions"]) == len(sample_request["data"])


def test_an_internal_error_answers_500_with_a_message(
    score_module, trained_model_dir, monkeypatch, sample_request
):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(trained_model_dir))
    score_module.init()

    def fail(output_names, feeds):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(score_module.session, "run", fail)
    response = score_module.run(post_request(body(sample_request)))

    assert response.status_code == 500
    assert "scoring failed" in json.loads(response.get_data())["error"]


@pytest.mark.parametrize("model_copies", [0, 2])
def test_init_names_the_folder_without_exactly_one_model(
    score_module, trained_model_dir, tmp_path, monkeypatch, model_copies
):
    for copy in range(model_copies):
        (tmp_path / f"version-{copy}").mkdir()
        shutil.copy(trained_model_dir / "model.onnx", tmp_path / f"version-{copy}" / "model.onnx")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="model.onnx") as error:
        score_module.init()
    assert str(tmp_path) in str(error.value)
