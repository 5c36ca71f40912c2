"""Errors the CLI turns into one line on stderr and an exit code, and the one translation of the
exceptions the Azure SDKs raise into them.

Exit codes: 0 done; 1 an Azure operation failed or a gate refused; 2 bad input or an invalid spec;
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# Terminal control sequences (colours, cursor moves) the SDKs put in their messages.
ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
SIGN_IN_ERRORS = {"ClientAuthenticationError", "CredentialUnavailableError"}
SIGN_IN_HINT = "run `mlops doctor` to see which credentials are available"
INTERRUPTED = "interrupted; what mlops started in Azure goes on"
# How azure-ai-ml's JobException words a failed job: "Exception : \n {<the job's error>} ".
JOB_ERROR_PREFIX = "Exception :"


class MlopsError(Exception):
    """An error a person can act on; its text is shown as ``mlops: <text>``."""

    exit_code = EXIT_FAILED


class InvalidInput(MlopsError):
    """A flag, file or spec is wrong; nothing was changed in Azure."""

    exit_code = EXIT_BAD_INPUT


class AzureFailure(MlopsError):
    """An Azure operation failed or refused."""

    exit_code = EXIT_FAILED


class GateRefused(MlopsError):
    """An evaluation gate refused the model."""

    exit_code = EXIT_FAILED


class Interrupted(MlopsError):
    """Ctrl-C: mlops stopped; what it started in Azure goes on."""

    exit_code = EXIT_INTERRUPTED


def one_line(text: str) -> str:
    """The first line of ``text`` that says something, without terminal control sequences."""
    plain = ESCAPE_SEQUENCE.sub("", text)
    return next((line.strip() for line in plain.splitlines() if line.strip()), "")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_from(exc: BaseException, *modules: str) -> bool:
    return (type(exc).__module__ or "").startswith(modules)


def interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C is behind ``exc`` (azure-ai-ml turns it into its own errors)."""
    return any(isinstance(link, KeyboardInterrupt) for link in exception_chain(exc))


def is_job_failure(exc: BaseException | None) -> bool:
    """Whether ``exc`` is azure-ai-ml's report that the job it streamed failed."""
    if exc is None:
        return False
    return any("JobException" in class_names(link) for link in exception_chain(exc))


def service_message(error: object) -> str:
    """The message of the service's error body, with its first detail's when it says more."""
    message = one_line(str(getattr(error, "message", None) or ""))
    details = getattr(error, "details", None) or []
    detail = one_line(str(getattr(details[0], "message", None) or "")) if details else ""
    if detail and detail not in message:
        return f"{message.rstrip('.')}: {detail}" if message else detail
    return message


def service_error(exc: BaseException) -> str:
    """An HTTP error answered by Azure: its message, code and status, from the error body."""
    error = getattr(exc, "error", None)
    message = service_message(error) or one_line(str(getattr(exc, "message", "") or exc))
    code = getattr(error, "code", None)
    status = getattr(exc, "status_code", None)
    facts = [str(code)] if code else []
    # A failed long-running operation is reported by a poll answered 200: no HTTP error.
    if status and status >= 400:
        facts.append(f"HTTP {status}")
    return f"{message} ({', '.join(facts)})" if facts else message


def job_error(exc: BaseException) -> str:
    """The error of a failed job, from the JobException azure-ai-ml raises at the end of its log."""
    text = str(getattr(exc, "message", None) or exc).strip()
    if text.startswith(JOB_ERROR_PREFIX):
        body = text.removeprefix(JOB_ERROR_PREFIX).strip()
        try:
            document = json.loads(body)
        except ValueError:
            return one_line(body)
        error = document.get("error", document) if isinstance(document, dict) else document
        if isinstance(error, dict):
            code, message = error.get("code"), error.get("message")
            return one_line(f"{message} ({code})" if code and message else str(message or code))
        return one_line(str(error))
    return one_line(text)


def validation_error(exc: BaseException) -> MlopsError:
    """azure-ai-ml's ValidationException: a spec or value it refused (exit 2), or a missing asset
    or deployment in the workspace (exit 1)."""
    message = one_line(str(getattr(exc, "message", None) or exc))
    error_type = getattr(getattr(exc, "error_type", None), "name", "")
    if error_type == "RESOURCE_NOT_FOUND":
        return AzureFailure(message)
    return InvalidInput(message)


def from_azure_exception(exc: BaseException) -> MlopsError | None:
    """The MlopsError for an exception the Azure SDKs raised, or None if it is not theirs.

    Checked by class and module name, so that this module never imports the SDKs. azure-ai-ml
    wraps the error that says what happened (a service's answer, a validation) in others whose
    message is a coloured template; the chain of exceptions still holds it.
    """
    chain = list(exception_chain(exc))
    if any(is_from(link, "marshmallow") for link in chain):
        return InvalidInput(plain_line(exc))
    if not any(is_from(link, "azure.") for link in chain):
        return None
    if interrupted(exc):
        return Interrupted(INTERRUPTED)
    for link in chain:
        if class_names(link) & SIGN_IN_ERRORS:
            return sign_in_error(link)
    for link in chain:
        names = class_names(link)
        if "ValidationException" in names:
            return validation_error(link)
        if "JobException" in names:
            return AzureFailure(job_error(link))
        if "HttpResponseError" in names:
            return AzureFailure(service_error(link))
    return AzureFailure(plain_line(exc))


def sign_in_error(exc: BaseException) -> MlopsError:
    said = service_error(exc) if "HttpResponseError" in class_names(exc) else plain_line(exc)
    return AzureFailure(f"could not sign in to Azure: {said} ({SIGN_IN_HINT})")


def about(what: str, exc: Exception) -> MlopsError:
    """``exc`` as an MlopsError whose line starts with ``what`` (a spec, a step); an exception
    that is neither mlops' nor the Azure SDKs' is raised as it is (a bug to see whole)."""
    error = exc if isinstance(exc, MlopsError) else from_azure_exception(exc)
    if error is None:
        raise exc
    return type(error)(f"{what}: {error}")


def plain_line(exc: BaseException) -> str:
    return one_line(str(exc)) or type(exc).__name__


def describe(exc: BaseException) -> str:
    """One readable line for any exception: an Azure error translated, another one's first line."""
    if isinstance(exc, MlopsError):
        return str(exc)
    translated = from_azure_exception(exc)
    return str(translated) if translated is not None else plain_line(exc)
