"""The one translation of azure-ai-ml's exceptions (mlops.errors): a readable line without
colour codes, and the exit code of the contract (2 bad input, 1 a failed Azure operation)."""

from __future__ import annotations

import pytest
from azure.ai.ml._exception_helper import log_and_raise_error
from azure.ai.ml.exceptions import (
    ErrorTarget,
    JobException,
    ValidationErrorType,
    ValidationException,
)
from azure.core.exceptions import ResourceNotFoundError
from marshmallow import ValidationError

from mlops.errors import EXIT_BAD_INPUT, EXIT_FAILED, from_azure_exception, interrupted, one_line


def raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    """``error`` as raised (from ``cause``), with its traceback and chain."""
    try:
        try:
            if cause is not None:
                raise cause
        except BaseException as inner:
            raise error from inner
        raise error
    except BaseException as outer:
        return outer


def formatted(validation: ValidationException) -> BaseException:
    """What azure-ai-ml raises for a validation error: its coloured template, chained."""
    try:
        try:
            raise validation
        except ValidationException as exc:
            log_and_raise_error(exc)
    except BaseException as outer:
        return outer
    raise AssertionError("log_and_raise_error did not raise")


def validation(message: str, error_type: ValidationErrorType) -> ValidationException:
    return ValidationException(
        message=message,
        no_personal_data_message=message,
        target=ErrorTarget.DATA,
        error_type=error_type,
    )


def test_a_missing_asset_behind_the_sdks_coloured_template_is_one_line_exit_1():
    missing = validation(
        "Asset churn-data does not exist in workspace w.", ValidationErrorType.RESOURCE_NOT_FOUND
    )
    exc = formatted(raised(missing, ResourceNotFoundError("(NotFound) container not found")))

    assert str(exc).lstrip().startswith("\x1b[")
    error = from_azure_exception(exc)

    assert (str(error), error.exit_code) == (
        "Asset churn-data does not exist in workspace w.",
        EXIT_FAILED,
    )


def test_a_validation_error_keeps_its_message_and_is_bad_input():
    exc = formatted(
        validation(
            "File path does not match asset type uri_folder: ./x", ValidationErrorType.INVALID_VALUE
        )
    )

    error = from_azure_exception(exc)

    assert (str(error), error.exit_code) == (
        "File path does not match asset type uri_folder: ./x",
        EXIT_BAD_INPUT,
    )


def test_a_failed_jobs_error_is_read_from_the_json_the_sdk_words_it_in():
    exc = JobException(
        message='Exception : \n {\n    "error": {\n        "code": "UserError",\n        '
        '"message": "Execution failed."\n    }\n} ',
        no_personal_data_message="Exception raised on failed job.",
        target=ErrorTarget.JOB,
    )

    assert str(from_azure_exception(exc)) == "Execution failed. (UserError)"


def test_a_spec_refused_by_the_schema_is_bad_input():
    error = from_azure_exception(ValidationError({"epochs": ["Unknown field."]}))

    assert error.exit_code == EXIT_BAD_INPUT


def test_what_is_not_an_azure_error_is_left_alone():
    assert from_azure_exception(KeyError("x")) is None


def test_ctrl_c_behind_an_sdk_error_is_recognised():
    exc = raised(
        JobException(
            message="The output streaming for the run interrupted.",
            no_personal_data_message="interrupted",
            target=ErrorTarget.JOB,
        ),
        KeyboardInterrupt(),
    )

    assert interrupted(exc)


@pytest.mark.parametrize(
    ("text", "line"),
    [("\n\x1b[31m(x) Asset x\x1b[39m\n\nmore", "(x) Asset x"), ("", ""), ("  one  ", "one")],
)
def test_one_line(text, line):
    assert one_line(text) == line
