"""Scoring script for the Azure ML inference server (online endpoint and ``azmlinfsrv``).

Request:  POST /score  {"data": [{"tenure_months": 5, "monthly_charges": 79.5, ...}, ...]}
Response: 200 {"predictions": [1, ...], "probabilities": [0.73, ...]}  (probability of churn)
Errors:   400 {"error": "..."} when the body is not what the model needs (names the row and field),
          405 for a method other than POST, 500 {"error": "..."} when scoring itself fails.

The expected fields come from the trained pipeline itself: the columns of its "numeric" step must
be numbers, those of its "categorical" step strings (an unseen category is accepted: one-hot
encoding ignores it). Other fields of a row are ignored.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import joblib
import pandas as pd
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse

MODEL_FILE = "model.pkl"
MAX_BATCH_ROWS = 1000
FIELD_KINDS_BY_STEP = {"numeric": "number", "categorical": "string"}

logger = logging.getLogger(__name__)
model = None
field_kinds: dict[str, str] = {}


class BadRequest(Exception):
    """The request cannot be scored; the message says why."""


def find_model_file(model_dir: Path) -> Path:
    """``model.pkl`` in ``model_dir``, or in exactly one of its sub-folders (a registered model)."""
    direct = model_dir / MODEL_FILE
    if direct.is_file():
        return direct
    found = sorted(model_dir.rglob(MODEL_FILE))
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileNotFoundError(f"no {MODEL_FILE} in {model_dir} or its sub-folders")
    raise FileNotFoundError(
        f"more than one {MODEL_FILE} under {model_dir}: {', '.join(map(str, found))}"
    )


def expected_fields(pipeline) -> dict[str, str]:
    """Input field -> "number" or "string", read from the pipeline's preprocessing step."""
    kinds = {}
    for step_name, _, columns in pipeline.named_steps["preprocess"].transformers_:
        if step_name in FIELD_KINDS_BY_STEP:
            kinds.update(dict.fromkeys(columns, FIELD_KINDS_BY_STEP[step_name]))
    return kinds


def init() -> None:
    global model, field_kinds
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: it must name the model folder")
    model_file = find_model_file(Path(model_dir))
    model = joblib.load(model_file)
    field_kinds = expected_fields(model)
    logger.info("Loaded %s expecting fields %s", model_file, ", ".join(field_kinds))


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_field(row: dict, index: int, field: str, kind: str) -> None:
    where = f"data[{index}].{field}"
    if field not in row:
        raise BadRequest(f"{where} is missing")
    value = row[field]
    if json_type(value) != kind:
        raise BadRequest(f"{where} must be a {kind}, got {json_type(value)} {json.dumps(value)}")
    if kind == "number" and not math.isfinite(value):
        raise BadRequest(f"{where} must be a finite number, got {value}")


def parse_rows(body: bytes) -> pd.DataFrame:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    if not isinstance(payload, dict) or "data" not in payload:
        raise BadRequest('request body must be a JSON object with a "data" list of rows')
    rows = payload["data"]
    if not isinstance(rows, list):
        raise BadRequest(f'"data" must be a list of rows, got {json_type(rows)}')
    if not rows:
        raise BadRequest('"data" is empty: send at least one row')
    if len(rows) > MAX_BATCH_ROWS:
        raise BadRequest(f'"data" has {len(rows)} rows; at most {MAX_BATCH_ROWS} per request')
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"data[{index}] must be an object of fields, got {json_type(row)}")
        for field, kind in field_kinds.items():
            check_field(row, index, field, kind)
    return pd.DataFrame(
        [[row[field] for field in field_kinds] for row in rows], columns=[*field_kinds]
    )


def json_response(status: int, body: dict, headers: dict[str, str] | None = None) -> AMLResponse:
    return AMLResponse(body, status, headers or {}, json_str=True)


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    if request.method != "POST":
        return json_response(
            405,
            {"error": f"{request.method} is not supported: POST a JSON body"},
            {"Allow": "POST"},
        )
    try:
        rows = parse_rows(request.get_data())
        probabilities = model.predict_proba(rows)[:, 1]
        predictions = model.predict(rows)
    except BadRequest as exc:
        return json_response(400, {"error": str(exc)})
    except Exception:
        logger.exception("Scoring failed")
        return json_response(500, {"error": "scoring failed; the server log has the details"})
    return json_response(
        200,
        {
            "predictions": [int(label) for label in predictions],
            "probabilities": [float(probability) for probability in probabilities],
        },
    )
