"""The scripts a job's or component's ``command`` runs: each exists in the ``code`` folder it is
uploaded with (the kind's ``commands`` in mlops.kinds say where commands are).

A command is read as the shell reads it, one simple command after another (``&&``, ``||``, ``;``,
``|``, new lines); ``cd DIR`` moves on into DIR. What a command runs is checked when the code
folder holds it: ``python [options] SCRIPT``, ``python -m MODULE`` when the folder has the
module's top-level package (otherwise it is installed in the environment), ``Rscript``, ``bash``
and ``sh`` with their script. Anything else, or a value bound at run time, is left alone.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

from mlops import specs
from mlops.catalog import Spec
from mlops.specs import Problem, display_path, values_at

COMMAND_SEPARATOR = re.compile(r"&&|\|\||[;|\n]")
PYTHON = re.compile(r"python(?:[0-9]+(?:\.[0-9]+)?)?")
SCRIPT_RUNNERS = {"Rscript", "bash", "sh"}
# Options of python that take a value, and those after which no script follows.
PYTHON_OPTIONS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}
PYTHON_NO_SCRIPT = {"-c", "-", "--version", "-V", "--help", "-h"}
ENVIRONMENT_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def check_scripts(spec: Spec) -> Iterator[Problem]:
    base = spec.path.parent
    for pattern in spec.kind.commands:
        for field_name, node in values_at(spec.document, pattern):
            if not isinstance(node, dict) or not isinstance(node.get("command"), str):
                continue
            code = node.get("code")
            if not specs.is_local_path(code) or not (base / code).is_dir():
                continue  # no local code (or a missing folder, which the path checks report)
            where = f"{field_name}.command" if field_name else "command"
            for missing in missing_files(node["command"], (base / code).resolve()):
                yield Problem(spec.shown, where, missing)


def missing_files(command: str, code: Path) -> Iterator[str]:
    folder = code
    for segment in COMMAND_SEPARATOR.split(command.replace("\\\n", " ")):
        try:
            words = shlex.split(segment)
        except ValueError:
            return  # quoting this tool does not follow: leave the rest to the shell
        while words and ENVIRONMENT_ASSIGNMENT.fullmatch(words[0]):
            words = words[1:]
        if not words or "$" in words[0]:
            continue
        if words[0] == "cd":
            if len(words) < 2 or "$" in words[1] or not (folder / words[1]).is_dir():
                return
            folder = (folder / words[1]).resolve()
            continue
        problem = run_problem(words, folder)
        if problem:
            yield problem


def run_problem(words: list[str], folder: Path) -> str | None:
    """Why what ``words`` run (a script, a module) is missing from ``folder``, or None."""
    program = Path(words[0]).name
    if PYTHON.fullmatch(program):
        target = python_target(words[1:])
        if target is None:
            return None
        module, name = target
        return module_problem(name, folder) if module else file_problem(name, folder)
    if program in SCRIPT_RUNNERS and len(words) > 1 and not words[1].startswith("-"):
        return file_problem(words[1], folder)
    return None


def python_target(arguments: list[str]) -> tuple[bool, str] | None:
    """(is a module, its name) of what ``python ARGUMENTS`` runs; None when it runs no file."""
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument in PYTHON_NO_SCRIPT:
            return None
        if argument == "-m":
            return (True, arguments[index + 1]) if index + 1 < len(arguments) else None
        if argument in PYTHON_OPTIONS_WITH_VALUE:
            index += 2
            continue
        if argument.startswith("-"):
            index += 1
            continue
        return False, argument
    return None


def file_problem(name: str, folder: Path) -> str | None:
    if "$" in name or Path(name).is_absolute() or (folder / name).is_file():
        return None
    return f"{name} does not exist in the code folder ({display_path(folder / name)})"


def module_problem(module: str, folder: Path) -> str | None:
    if "$" in module:
        return None
    parts = module.split(".")
    package = folder / parts[0]
    if not (package.is_dir() or package.with_suffix(".py").is_file()):
        return None  # not the code folder's: installed in the environment
    path = folder.joinpath(*parts)
    candidates = (path.with_suffix(".py"), path / "__main__.py")
    if any(candidate.is_file() for candidate in candidates):
        return None
    return f"module {module} does not exist in the code folder ({display_path(path)}.py)"
