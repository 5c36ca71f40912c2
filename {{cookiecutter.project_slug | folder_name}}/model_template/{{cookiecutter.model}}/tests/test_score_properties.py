"""Property-based: generated request bodies sent to the running server get the answer its
/swagger.json promises: 200 with one prediction per row when the contract accepts the request, 4xx
with an error naming the first bad row and field when it does not, never a 5xx. The server is
healthy afterwards."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

# A few seconds against the local server; every run draws new bodies.
EXAMPLES = 150
# The error is about the body as a whole, not one row.
BODY = "body"
# A body nested deeper may be refused as a whole: a JSON parser in Python stops at the
# interpreter's recursion limit, which the server reaches sooner than this test (deeper stack).
DEEPEST_PARSED = 200
# Numbers as a client may write them, beyond what json.dumps writes: hundreds of digits, huge and
# tiny exponents, and an integer longer than Python's int() accepts (4300 digits).
NUMBER_TEXTS = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,400})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(["9" * 5000, "1e400", "-1e400", "1e-400", "3.4028235e38", "-0"]),
)
UNPAIRED_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity too, which json.dumps writes and Python's json reads
    | st.text(max_size=10)
    | UNPAIRED_SURROGATES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
VALUE_TEXTS = st.one_of(JSON_VALUES.map(json.dumps), NUMBER_TEXTS)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252"]


@st.composite
def row_texts(draw, sample_row: dict) -> str:
    """A JSON object like ``sample_row``, some fields replaced by any value or left out, maybe
    with fields the model does not know."""
    members = []
    for field, value in sample_row.items():
        change = draw(st.sampled_from(["keep", "keep", "keep", "replace", "drop"]))
        if change != "drop":
            text = draw(VALUE_TEXTS) if change == "replace" else json.dumps(value)
            members.append(f"{json.dumps(field)}: {text}")
    extra = draw(st.dictionaries(st.text(max_size=6), VALUE_TEXTS, max_size=2))
    members += [f"{json.dumps(name)}: {text}" for name, text in extra.items()]
    return "{" + ", ".join(draw(st.permutations(members))) + "}"


def request_bodies(sample_row: dict) -> st.SearchStrategy[bytes]:
    rows = st.lists(
        st.one_of(row_texts(sample_row), row_texts(sample_row), VALUE_TEXTS), max_size=5
    )
    shaped = rows.map(lambda texts: '{"data": [' + ", ".join(texts) + "]}")
    in_other_encodings = st.tuples(
        st.text(max_size=12).map(
            lambda text: json.dumps(
                {"data": [{**sample_row, "contract": text}]}, ensure_ascii=False
            )
        ),
        st.sampled_from(ENCODINGS),
    ).map(lambda pair: pair[0].encode(pair[1], errors="replace"))
    nested = st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth)
    return st.one_of(
        shaped.map(str.encode),
        shaped.map(str.encode),
        JSON_VALUES.map(lambda value: json.dumps({"data": value}).encode()),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        nested.map(lambda brackets: ('{"data": ' + brackets + "}").encode()),
        in_other_encodings,
        st.binary(max_size=64),
    )


def definition_validator(swagger: dict, definition: str) -> Draft4Validator:
    schema = {"$ref": f"#/definitions/{definition}", "definitions": swagger["definitions"]}
    return Draft4Validator(schema)


def nesting_depth(value: object) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in value)
    return deepest


def is_json_value(value: object) -> bool:
    """What JSON can carry but a schema does not check: finite numbers, Unicode text."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any(0xD800 <= ord(character) <= 0xDFFF for character in value)
    return True


def first_violation(body: bytes, request_schema: Draft4Validator, fields: list[str]):
    """None when the contract accepts the request; BODY when the body as a whole is wrong; else
    the ways the error may start: ``data[i].field `` for each bad field of the first bad row i,
    or ``data[i] `` when that row is not an object."""
    try:
        # Numbers are doubles, as the server and most JSON parsers read them.
        payload = json.loads(body, parse_int=float)
    except (ValueError, RecursionError):
        return BODY
    if nesting_depth(payload) > DEEPEST_PARSED:
        return BODY
    starts: dict[int, set[str]] = {}
    for error in request_schema.iter_errors(payload):
        path = list(error.absolute_path)
        if len(path) < 2:
            return BODY
        index = path[1]
        row = payload["data"][index]
        if len(path) > 2:
            starts.setdefault(index, set()).add(f"data[{index}].{path[2]} ")
        elif isinstance(row, dict):  # a required field is missing
            missing = {f"data[{index}].{name} " for name in fields if name not in row}
            starts.setdefault(index, set()).update(missing)
        else:
            starts.setdefault(index, set()).add(f"data[{index}] ")
    for index, row in enumerate(payload["data"]):
        if isinstance(row, dict):
            bad = {f"data[{index}].{name} " for name in fields if not is_json_value(row.get(name))}
            if bad:
                starts.setdefault(index, set()).update(bad)
    return starts[min(starts)] if starts else None


def test_generated_bodies_get_the_answer_the_swagger_promises(
    serve_local, scoring_url, sample_request, score_module
):
    swagger = json.loads(serve_local.http_request(f"{scoring_url}/swagger.json")[1])
    request_schema = definition_validator(swagger, "ScoringRequest")
    response_schema = definition_validator(swagger, "ScoringResponse")
    error_schema = definition_validator(swagger, "Error")
    fields = swagger["definitions"]["Row"]["required"]
    sample_row = sample_request["data"][0]
    too_large = json.dumps({"data": [sample_row], "x": "x" * score_module.MAX_BODY_BYTES})

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=request_bodies(sample_row))
    @example(body=b"[" * 100_000 + b"]" * 100_000)
    @example(body=json.dumps({"data": [sample_row] * (score_module.MAX_BATCH_ROWS + 1)}).encode())
    @example(body=too_large.encode())
    def answered_as_promised(body: bytes) -> None:
        status, answer = serve_local.http_request(f"{scoring_url}/score", body)
        assert status < 500, answer
        reply = json.loads(answer)
        if len(body) > score_module.MAX_BODY_BYTES:
            assert status == 413, reply
            return
        violation = first_violation(body, request_schema, fields)
        if violation is None:
            assert status == 200, reply
            response_schema.validate(reply)
            rows = json.loads(body, parse_int=float)["data"]
            assert len(reply["predictions"]) == len(reply["probabilities"]) == len(rows)
            return
        assert status == 400, reply
        error_schema.validate(reply)
        if violation is not BODY:
            assert reply["error"].startswith(tuple(violation)), (reply, violation)

    answered_as_promised()

    assert serve_local.is_healthy(scoring_url)
    status, _ = serve_local.http_request(
        f"{scoring_url}/score", json.dumps(sample_request).encode()
    )
    assert status == 200
