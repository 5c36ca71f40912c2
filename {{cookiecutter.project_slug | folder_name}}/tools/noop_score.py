"""A scoring script that reads the request and answers a constant: what the inference server itself
costs per request, the floor bench_score.py compares a model's score.py with."""

from __future__ import annotations

from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init() -> None:
    pass


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    request.get_data()
    return AMLResponse({"predictions": []}, 200, {}, json_str=True)
