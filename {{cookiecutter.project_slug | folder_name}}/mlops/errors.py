"""Errors the CLI turns into one line on stderr and an exit code.

Exit codes: 0 done; 1 an Azure operation failed or a gate refused; 2 bad input or an invalid spec.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


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


def from_azure_exception(exc: BaseException) -> MlopsError | None:
    """Translate an exception raised by the Azure SDKs into an MlopsError, or None if it is not one.

    Checked by module name so that this module never imports the SDKs.
    """
    module = type(exc).__module__ or ""
    if module.startswith("marshmallow"):
        return InvalidInput(first_line(exc))
    if not module.startswith("azure."):
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "ClientAuthenticationError" in names or "CredentialUnavailableError" in names:
        return AzureFailure(
            "could not sign in to Azure: "
            + first_line(exc)
            + " (run `mlops doctor` to see which credentials are available)"
        )
    if "ValidationException" in names:
        return InvalidInput(first_line(exc))
    return AzureFailure(first_line(exc))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else ""
    return line or type(exc).__name__
