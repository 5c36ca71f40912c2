"""Reading a bake's CI/CD as the providers compile it: GitHub workflows with the reusable workflows
and local actions they call filled in with their inputs, Azure DevOps pipelines with their
templates expanded; and the `make` commands their steps run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

MAKE_CALL = re.compile(r"(?<![\w./$-])make[ \t]+([^\n;&|]+)")
SHELL_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
INPUT_EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
# The template expressions the pipelines use: a parameter, or a parameter with replace().
TEMPLATE_EXPRESSION = re.compile(
    r"\$\{\{\s*(?:parameters\.(?P<plain>\w+)|replace\(parameters\.(?P<replaced>\w+),"
    r"\s*'(?P<old>[^']*)',\s*'(?P<new>[^']*)'\))\s*\}\}"
)
LOCAL_PREFIXES = ("$/", "./")


# --- GitHub Actions ----------------------------------------------------------------------------


def load_workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 (PyYAML) reads GitHub's key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflows(project: Path) -> dict[str, dict]:
    return {p.name: load_workflow(p) for p in sorted((project / ".github/workflows").glob("*.yml"))}


def local_path(project: Path, uses: str) -> Path:
    """The file a local `uses:` names: a reusable workflow, or a local action's action.yml."""
    assert uses.startswith(LOCAL_PREFIXES), f"not from this repository: {uses}"
    path = project / uses[2:]
    return path / "action.yml" if path.is_dir() else path


def with_inputs(node, inputs: dict):
    """``node`` with each `${{ inputs.x }}` replaced by the value its caller passes."""
    if isinstance(node, str):
        whole = INPUT_EXPRESSION.fullmatch(node.strip())
        if whole and whole[1] in inputs:
            return inputs[whole[1]]
        return INPUT_EXPRESSION.sub(lambda m: str(inputs.get(m[1], m[0])), node)
    if isinstance(node, list):
        return [with_inputs(item, inputs) for item in node]
    if isinstance(node, dict):
        return {key: with_inputs(value, inputs) for key, value in node.items()}
    return node


@dataclass(frozen=True)
class Job:
    """A job as it runs: ``path`` names the calling jobs and the job (train.yml:deploy/...)."""

    path: str
    workflow: str
    body: dict
    env: dict


def jobs_of(project: Path, workflow_name: str, inputs: dict | None = None) -> Iterator[Job]:
    """Every job a run of the workflow runs, the jobs of the workflows it calls included."""
    workflow = with_inputs(
        load_workflow(project / ".github/workflows" / workflow_name), inputs or {}
    )
    for job_id, job in workflow["jobs"].items():
        path = f"{workflow_name}:{job_id}"
        if "uses" in job:
            callee = local_path(project, job["uses"])
            for called in jobs_of(project, callee.name, job.get("with", {})):
                yield Job(f"{path}/{called.path}", called.workflow, called.body, called.env)
        else:
            env = {**workflow.get("env", {}), **job.get("env", {})}
            yield Job(path, workflow_name, job, env)


def steps_of(project: Path, job: dict) -> Iterator[dict]:
    """The job's steps, a local composite action's steps in its place (inputs filled in)."""
    for step in job.get("steps", []):
        uses = step.get("uses", "")
        if uses.startswith(LOCAL_PREFIXES):
            action = yaml.safe_load(local_path(project, uses).read_text(encoding="utf-8"))
            defaults = {
                name: spec["default"]
                for name, spec in (action.get("inputs") or {}).items()
                if "default" in spec
            }
            inputs = {**defaults, **step.get("with", {})}
            yield from with_inputs(action["runs"]["steps"], inputs)
        else:
            yield step


def run_steps(project: Path, job: Job) -> Iterator[tuple[dict, dict]]:
    """(step, its environment) of every `run:` step of the job."""
    for step in steps_of(project, job.body):
        if "run" in step:
            yield step, {**job.env, **step.get("env", {})}


def step_index(steps: list, predicate) -> list[int]:
    return [i for i, step in enumerate(steps) if predicate(step)]


def uses_action(name: str):
    return lambda step: step.get("uses", "").startswith(f"{name}@")


def uses_login(project: Path, job: dict) -> bool:
    return any(uses_action("azure/login")(step) for step in steps_of(project, job))


# --- Azure DevOps ------------------------------------------------------------------------------


def expand_templates(node, here: Path):
    """The pipeline as Azure DevOps compiles it: each `- template:` item replaced by the template's
    stages, jobs or steps, with its parameters checked against the template's declaration."""
    if isinstance(node, list):
        expanded = []
        for item in node:
            if isinstance(item, dict) and set(item) in ({"template"}, {"template", "parameters"}):
                expanded.extend(
                    expand_template(here.parent / item["template"], item.get("parameters", {}))
                )
            else:
                expanded.append(expand_templates(item, here))
        return expanded
    if isinstance(node, dict):
        return {key: expand_templates(value, here) for key, value in node.items()}
    return node


def template_arguments(path: Path, declared: dict, arguments: dict) -> dict:
    unknown = set(arguments) - set(declared)
    assert not unknown, f"{path.name} has no parameter {sorted(unknown)}"
    values = {}
    for name, declaration in declared.items():
        assert name in arguments or "default" in declaration, f"{path.name} needs {name}"
        value = arguments.get(name, declaration.get("default"))
        allowed = declaration.get("values")
        if allowed is not None and not str(value).startswith(("$(", "${{")):
            assert value in allowed, f"{path.name}: {name}={value!r} is not one of {allowed}"
        values[name] = value
    return values


def fill_in(text: str, values: dict) -> str:
    def value_of(match: re.Match) -> str:
        if match["plain"]:
            return str(values[match["plain"]])
        return str(values[match["replaced"]]).replace(match["old"], match["new"])

    return TEMPLATE_EXPRESSION.sub(value_of, text)


def expand_template(path: Path, arguments: dict) -> list:
    text = path.read_text(encoding="utf-8")
    declared = {p["name"]: p for p in yaml.safe_load(text).get("parameters", [])}
    document = yaml.safe_load(fill_in(text, template_arguments(path, declared, arguments)))
    bodies = [document[key] for key in ("stages", "jobs", "steps") if key in document]
    assert len(bodies) == 1, f"{path.name} must hold exactly one of stages, jobs, steps"
    return expand_templates(bodies[0], path)


def load_pipeline(path: Path) -> dict:
    return expand_templates(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def pipeline_files(project: Path) -> list[Path]:
    return sorted((project / ".azure-pipelines").glob("*.yml"))


def all_steps(node):
    """Every step of a (expanded) pipeline, stage, job or deployment strategy, in order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "steps" and isinstance(value, list):
                yield from value
            else:
                yield from all_steps(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_steps(item)


def all_keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from all_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_keys(item)


def script_of(step: dict) -> str:
    if "bash" in step or "script" in step:
        return step.get("bash", step.get("script"))
    if step.get("task", "").startswith("AzureCLI@"):
        return step["inputs"]["inlineScript"]
    return ""


# --- the make commands the steps run -----------------------------------------------------------


def make_calls(script: str, env: dict) -> list[list[str]]:
    """Each `make ...` command of a shell script as its arguments, with the step's environment
    variables written in (so `make "deploy-$STAGE"` names the target it runs)."""

    def value_of(match: re.Match) -> str:
        name = match[1] or match[2]
        return str(env[name]) if name in env else match[0]

    calls = []
    for line in script.splitlines():
        for match in MAKE_CALL.finditer(line):
            calls.append(shlex.split(SHELL_VARIABLE.sub(value_of, match[1]), comments=True))
    return calls


def make_targets(script: str, env: dict) -> set[str]:
    return {
        arg
        for call in make_calls(script, env)
        for arg in call
        if "=" not in arg and not arg.startswith("-")
    }


def runs_make(target: str):
    return lambda step: target in make_targets(step.get("run", ""), step.get("env", {}))
