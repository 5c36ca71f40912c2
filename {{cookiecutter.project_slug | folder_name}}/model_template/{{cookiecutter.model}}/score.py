"""Scoring script for the Azure ML inference server (online endpoint and ``azmlinfsrv``).

Request:  POST /score  {"data": [{"tenure_months": 5, "monthly_charges": 79.5, ...}, ...]}
          at most MAX_BATCH_ROWS rows and MAX_BODY_BYTES bytes
Response: 200 {"predictions": [1, ...], "probabilities": [0.73, ...]}  (probability of class 1)
Errors:   {"error": "..."} with 400 when the body is not what the model needs (the message names the
          row and field), 405 for a method other than POST, 413 for a body over the size limit,
          500 when scoring itself fails.

The model is ``model.onnx``, the pipeline train.py exported, run with onnxruntime: serving loads no
pickle and needs no scikit-learn. The expected fields are the model's inputs: a float input is a
number field, a string input a text field (an unseen category is accepted: one-hot encoding
ignores it). Other fields of a row are ignored.

``init()`` writes that contract as ``swagger.json`` into the server's app root, from where
azmlinfsrv serves it at ``GET /swagger.json``.

Data collection (for model monitoring, monitoring/monitor.yml): when the deployment collects
(deployment.yml's ``data_collector``), each scored request's model inputs (the model's fields of
every row) and outputs (the predicted class, named as the training data's label column) are logged
through Azure ML's data collector library, ``azureml-ai-monitoring``, under the collection names
``model_inputs`` and ``model_outputs``, with one correlation id for both. Azure ML turns it on by
pointing ``AZUREML_MDC_CONFIG_PATH`` at the deployment's collection settings; the library queues
the rows and a thread of its own posts them to the deployment's collector agent
(``AZUREML_MDC_HOST``:``AZUREML_MDC_PORT``), which writes them to the workspace's blob store.
Without those settings nothing is imported and no collector is created: scoring does no extra
work. Collection never changes an answer: a collector that fails is logged, and the request is
answered as if it had succeeded.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import onnxruntime
from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse

MODEL_FILE = "model.onnx"
SWAGGER_FILE = "swagger.json"
SERVER_DEFAULT_APP_ROOT = "/var/azureml-app"  # where azmlinfsrv looks without AML_APP_ROOT
MAX_BATCH_ROWS = 1000
# A thousand rows of this model take about 250 kB; the rest leaves room for fields it ignores.
MAX_BODY_BYTES = 4 * 1024 * 1024
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
READ_CHUNK_BYTES = 256 * 1024
# The model computes in 32-bit floats: a larger number would become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)
FIELD_KIND_BY_INPUT_TYPE = {"tensor(float)": "number", "tensor(string)": "string"}
FEED_DTYPE_BY_KIND = {"number": np.float32, "string": object}
LABEL_OUTPUT, PROBABILITIES_OUTPUT = "label", "probabilities"
PREVIEW_CHARS = 40
# The collections of deployment.yml's data_collector, and the column of the collected outputs: the
# label column of the training data (train.py's TARGET), which prediction drift compares them with.
INPUTS_COLLECTION, OUTPUTS_COLLECTION = "model_inputs", "model_outputs"
PREDICTION_COLUMN = "churned"
# What makes the data collector library collect: the collection settings Azure ML writes for a
# deployment with a data_collector, or (the library's older switch) AZUREML_MDC_ENABLED=true.
COLLECTION_CONFIG_SETTING = "AZUREML_MDC_CONFIG_PATH"
COLLECTION_SWITCH_SETTING = "AZUREML_MDC_ENABLED"

logger = logging.getLogger(__name__)
session: onnxruntime.InferenceSession | None = None
field_kinds: dict[str, str] = {}
# Collection name -> the library's Collector, for each collection that is on; empty when off.
collectors: dict = {}


class BadRequest(Exception):
    """The request cannot be scored; the message says why."""

    status = 400


class BodyTooLarge(BadRequest):
    status = 413


def find_model_file(model_dir: Path) -> Path:
    """``model.onnx`` in ``model_dir`` or in exactly one of its sub-folders (a registered model)."""
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


def load_session(model_file: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    # A request is a few rows: one thread answers sooner than a pool, and leaves the other cores
    # to the server's other workers.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(model_file), options, providers=["CPUExecutionProvider"]
    )


def expected_fields(model: onnxruntime.InferenceSession) -> dict[str, str]:
    """Input field -> "number" or "string", read from the model's inputs."""
    kinds = {}
    for model_input in model.get_inputs():
        if model_input.type not in FIELD_KIND_BY_INPUT_TYPE:
            raise TypeError(
                f"model input {model_input.name} is a {model_input.type}; score.py feeds "
                f"{' and '.join(FIELD_KIND_BY_INPUT_TYPE)} inputs"
            )
        kinds[model_input.name] = FIELD_KIND_BY_INPUT_TYPE[model_input.type]
    return kinds


def field_schema(kind: str) -> dict:
    if kind == "number":
        return {
            "type": "number",
            "format": "float",
            "minimum": -FLOAT32_MAX,
            "maximum": FLOAT32_MAX,
        }
    return {"type": "string", "description": "a category; one the model has not seen is accepted"}


def error_response(description: str) -> dict:
    return {"description": description, "schema": {"$ref": "#/definitions/Error"}}


def swagger(fields: dict[str, str]) -> dict:
    """The OpenAPI 2 description of /score for a model with these input fields."""
    return {
        "swagger": "2.0",
        "info": {
            "title": os.environ.get("SERVICE_NAME", "ML service"),
            "version": os.environ.get("SERVICE_VERSION", "1.0"),
            "description": "Scores rows with the model; one prediction per row, in order.",
        },
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {"type": "apiKey", "name": "Authorization", "in": "header"}
        },
        "paths": {
            "/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "responses": {"200": {"description": "Healthy", "schema": {"type": "string"}}},
                }
            },
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "description": f"JSON, at most {MAX_BODY_BYTES} bytes",
                            "schema": {"$ref": "#/definitions/ScoringRequest"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "one prediction per row, in the order of the rows",
                            "schema": {"$ref": "#/definitions/ScoringResponse"},
                        },
                        "400": error_response(
                            "the body is not JSON or not what the model needs; the message "
                            "names the row and field, as in data[2].tenure_months"
                        ),
                        "405": error_response("a method other than POST"),
                        "413": error_response(f"a body over {MAX_BODY_BYTES} bytes"),
                        "500": error_response("scoring failed; the server log has the details"),
                    },
                }
            },
        },
        "definitions": {
            "Row": {
                "type": "object",
                "description": "the model's input fields; other fields are ignored",
                "required": list(fields),
                "properties": {name: field_schema(kind) for name, kind in fields.items()},
            },
            "ScoringRequest": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_BATCH_ROWS,
                        "items": {"$ref": "#/definitions/Row"},
                    }
                },
            },
            "ScoringResponse": {
                "type": "object",
                "required": ["predictions", "probabilities"],
                "properties": {
                    "predictions": {
                        "type": "array",
                        "description": "the predicted class of each row",
                        "items": {"type": "integer", "enum": [0, 1]},
                    },
                    "probabilities": {
                        "type": "array",
                        "description": "the probability of class 1 for each row",
                        "items": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
        },
    }


def publish_swagger(document: dict) -> None:
    """Write ``swagger.json`` where azmlinfsrv reads it once init() has returned: its app root,
    AML_APP_ROOT (``azmlinfsrv`` sets it to its working folder unless it is set)."""
    folder = Path(os.environ.get("AML_APP_ROOT", SERVER_DEFAULT_APP_ROOT))
    target = folder / SWAGGER_FILE
    # Written whole and then renamed: every worker runs init() and writes the same file.
    partial = folder / f".{SWAGGER_FILE}.{os.getpid()}"
    try:
        partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        logger.warning("Cannot write %s, so /swagger.json is not served: %s", target, exc)
        partial.unlink(missing_ok=True)


def model_dir_from_environment() -> Path:
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: it must name the model folder")
    return Path(model_dir)


def load_model(model_dir: Path) -> None:
    """Load model.onnx from ``model_dir`` and read the fields it expects (batch_score.py too)."""
    global session, field_kinds
    model_file = find_model_file(model_dir)
    session = load_session(model_file)
    field_kinds = expected_fields(session)
    logger.info("Loaded %s expecting fields %s", model_file, ", ".join(field_kinds))


def init() -> None:
    global collectors
    load_model(model_dir_from_environment())
    publish_swagger(swagger(field_kinds))
    collectors = open_collectors()


def collection_requested() -> bool:
    """Whether the deployment asks for data collection, as the collector library decides it."""
    return bool(os.environ.get(COLLECTION_CONFIG_SETTING)) or (
        os.environ.get(COLLECTION_SWITCH_SETTING, "").lower() == "true"
    )


class CollectionErrors:
    """The ``on_error`` of one collector: while it is created, what refuses the collection (the
    library reports a collection that is not on this way); afterwards, a logged warning."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created = False
        self.refusal: Exception | None = None

    def __call__(self, error: Exception) -> None:
        if not self.created:
            self.refusal = self.refusal or error
            return
        logger.warning("Data collection %s dropped a request's rows: %s", self.name, error)


def open_collectors() -> dict:
    """A collector of each collection that is on; none (and nothing imported) when off."""
    if not collection_requested():
        return {}
    try:
        from azureml.ai.monitoring import Collector
    except ImportError as exc:
        logger.error("Data collection is asked for, but its library is missing: %s", exc)
        return {}
    opened = {}
    for name in (INPUTS_COLLECTION, OUTPUTS_COLLECTION):
        errors = CollectionErrors(name)
        try:
            collector = Collector(name=name, on_error=errors)
        except Exception:
            logger.exception("Data collection %s cannot start; scoring goes on without it", name)
            continue
        errors.created = True
        if errors.refusal is not None:
            logger.info("Data collection %s is off: %s", name, errors.refusal)
            continue
        opened[name] = collector
    logger.info("Collecting %s", ", ".join(opened) or "nothing")
    return opened


def collect(rows: list[dict], predictions: list[int]) -> None:
    """Log the scored rows' model inputs and their predictions; never raises."""
    try:
        import pandas as pd

        context = None
        inputs = collectors.get(INPUTS_COLLECTION)
        if inputs is not None:
            columns = {field: [row[field] for row in rows] for field in field_kinds}
            context = inputs.collect(pd.DataFrame(columns))
        outputs = collectors.get(OUTPUTS_COLLECTION)
        if outputs is not None:
            outputs.collect(pd.DataFrame({PREDICTION_COLUMN: predictions}), context)
    except Exception:
        logger.exception("Data collection failed; the request was answered all the same")


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


def preview(value: object) -> str:
    """The value as a message shows it: short, and arrays and objects by their type alone."""
    if isinstance(value, list | dict):
        return json_type(value)
    shown = format(value, ".15g") if isinstance(value, float) else json.dumps(value)
    if len(shown) > PREVIEW_CHARS:
        shown = shown[:PREVIEW_CHARS] + "..."
    return f"{json_type(value)} {shown}"


def check_row(row: dict, where: str = "") -> None:
    """The one definition of a row the model can score, for score.py and batch_score.py: every
    field of ``field_kinds``, of its kind. BadRequest names the field after ``where``."""
    for field, kind in field_kinds.items():
        check_field(row, f"{where}{field}", field, kind)


def check_field(row: dict, where: str, field: str, kind: str) -> None:
    if field not in row:
        raise BadRequest(f"{where} is missing")
    value = row[field]
    if json_type(value) != kind:
        raise BadRequest(f"{where} must be a {kind}, got {preview(value)}")
    if kind == "number" and not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
        raise BadRequest(
            f"{where} must be a finite number between -{FLOAT32_MAX:.8g} and "
            f"{FLOAT32_MAX:.8g}, got {preview(value)}"
        )
    if kind == "string" and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"{where} must be text, got an unpaired surrogate escape") from None


def read_body(request: AMLRequest) -> bytes:
    """The body, at most MAX_BODY_BYTES. A larger one is refused once read to its end (up to
    DRAIN_LIMIT_BYTES): a client still sending when the server answers and closes would get a
    broken connection instead of the 413."""
    declared = request.content_length or 0
    chunks, size = [], 0
    while declared <= DRAIN_LIMIT_BYTES and (chunk := request.stream.read(READ_CHUNK_BYTES)):
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > DRAIN_LIMIT_BYTES:
            break
    size = max(size, declared)
    if size > MAX_BODY_BYTES:
        raise BodyTooLarge(f"request body is {size} bytes; at most {MAX_BODY_BYTES}")
    return b"".join(chunks)


def parse_rows(body: bytes) -> list[dict]:
    try:
        # Integers as floats: json would refuse one of more than 4300 digits outright, and one
        # of a few hundred would pass as a number that no float can hold.
        payload = json.loads(body, parse_int=float)
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
        check_row(row, f"data[{index}].")
    return rows


def predict(rows: list[dict]) -> tuple[list[int], list[float]]:
    """The predicted class and the probability of class 1 of each (checked) row."""
    feeds = {
        field: np.array([[row[field]] for row in rows], dtype=FEED_DTYPE_BY_KIND[kind])
        for field, kind in field_kinds.items()
    }
    labels, probabilities = session.run([LABEL_OUTPUT, PROBABILITIES_OUTPUT], feeds)
    return labels.tolist(), probabilities[:, 1].tolist()


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
        rows = parse_rows(read_body(request))
        predictions, probabilities = predict(rows)
    except BadRequest as exc:
        return json_response(exc.status, {"error": str(exc)})
    except Exception:
        logger.exception("Scoring failed")
        return json_response(500, {"error": "scoring failed; the server log has the details"})
    if collectors:
        collect(rows, predictions)
    return json_response(200, {"predictions": predictions, "probabilities": probabilities})
