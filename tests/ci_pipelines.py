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
# A condition on an input, `${{ inputs.x == 'value' }}` (or !=): decided once the input is known.
INPUT_COMPARISON = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'\s*\}\}")
# A pipeline variable in a template expression, `${{ variables.x }}`.
VARIABLE_EXPRESSION = re.compile(r"\$\{\{\s*variables\.(\w+)\s*\}\}")
# An Azure DevOps comparison of two literals, as a template expression leaves it in a condition.
CONSTANT_COMPARISON = re.compile(r"\b(eq|ne)\('([^']*)',\s*'([^']*)'\)")
# The template expressions the pipelines use: a parameter, or a parameter with replace().
TEMPLATE_EXPRESSION = re.compile(
    r"\$\{\{\s*(?:parameters\.(?P<plain>\w+)|replace\(parameters\.(?P<replaced>\w+),"
    r"\s*'(?P<old>[^']*)',\s*'(?P<new>[^']*)'\))\s*\}\}"
)
# What comes before a template expression that is a mapping's whole value (`key: ${{ ... }}`).
WHOLE_VALUE_KEY = re.compile(r"[ \t]*(- )?[\w.-]+:[ \t]+")
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


def known(value) -> bool:
    """Whether an input's value is known before the run (not an expression of the caller's)."""
    return not (isinstance(value, str) and "${{" in value)


def with_inputs(node, inputs: dict):
    """``node`` with each `${{ inputs.x }}` replaced by the value its caller passes, and each
    condition on an input whose value is known decided (True or False)."""
    if isinstance(node, str):
        whole = INPUT_EXPRESSION.fullmatch(node.strip())
        if whole and whole[1] in inputs:
            return inputs[whole[1]]
        comparison = INPUT_COMPARISON.fullmatch(node.strip())
        if comparison and comparison[1] in inputs and known(inputs[comparison[1]]):
            equal = str(inputs[comparison[1]]) == comparison[3]
            return equal if comparison[2] == "==" else not equal
        return INPUT_EXPRESSION.sub(lambda m: str(inputs.get(m[1], m[0])), node)
    if isinstance(node, list):
        return [with_inputs(item, inputs) for item in node]
    if isinstance(node, dict):
        return {key: with_inputs(value, inputs) for key, value in node.items()}
    return node


@dataclass(frozen=True)
class Job:
    """A job as it runs: ``path`` names the calling jobs and the job (train.yml:deploy/...);
    ``after``, the paths of the jobs that must have finished before it starts (its `needs`, those
    of the jobs that call it, and theirs)."""

    path: str
    workflow: str
    body: dict
    env: dict
    after: frozenset = frozenset()


def needed_ids(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def jobs_of(
    project: Path,
    workflow_name: str,
    inputs: dict | None = None,
    after: frozenset = frozenset(),
    prefix: str = "",
) -> Iterator[Job]:
    """Every job a run of the workflow runs, the jobs of the workflows it calls included."""
    workflow = with_inputs(
        load_workflow(project / ".github/workflows" / workflow_name), inputs or {}
    )
    paths_of: dict[str, set[str]] = {}
    for job_id, job in workflow["jobs"].items():
        path = f"{prefix}{workflow_name}:{job_id}"
        before = set(after)
        for needed in needed_ids(job):
            assert needed in paths_of, f"{path} needs {needed}, which is not a job before it"
            before |= paths_of[needed]
        if "uses" in job:
            callee = local_path(project, job["uses"]).name
            called = list(
                jobs_of(project, callee, job.get("with", {}), frozenset(before), f"{path}/")
            )
            paths_of[job_id] = {c.path for c in called}
            yield from called
        else:
            env = {**workflow.get("env", {}), **job.get("env", {})}
            paths_of[job_id] = {path}
            yield Job(path, workflow_name, job, env, frozenset(before))


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
            value = str(values[match["plain"]])
        else:
            value = str(values[match["replaced"]]).replace(match["old"], match["new"])
        # An expression that is a mapping's whole value stays a string when it is empty, as in
        # Azure DevOps (plain YAML would read nothing there as null).
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        before = text[line_start : match.start()]
        after = text[match.end() : len(text) if line_end < 0 else line_end]
        if not value and WHOLE_VALUE_KEY.fullmatch(before) and not after.strip():
            return '""'
        return value

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


def call_targets(call: list[str]) -> list[str]:
    return [arg for arg in call if "=" not in arg and not arg.startswith("-")]


def make_targets(script: str, env: dict) -> set[str]:
    return {target for call in make_calls(script, env) for target in call_targets(call)}


def runs_make(target: str):
    return lambda step: target in make_targets(step.get("run", ""), step.get("env", {}))


# --- the flow: what runs, in which order, signed in as whom --------------------------------------


@dataclass(frozen=True)
class FlowEvent:
    """One thing a run does. ``kind`` "environment": a job bound to environment ``name`` starts
    (the environment's approvals and checks gate it); "make": a step runs make target ``name``.
    ``job`` names the job; ``after``, the jobs that must have finished before it starts;
    ``signs_in_as``, who the step's Azure sign-in is (GitHub: the OIDC subject after
    `repo:<owner>/<name>:`; Azure DevOps: the service connection), None without one."""

    kind: str
    name: str
    job: str
    after: frozenset
    signs_in_as: str | None = None
    env: dict | None = None


def github_flow(project: Path, workflow: str = "train.yml", branch: str = "main") -> list:
    """The events of a run of ``workflow`` started by a push to ``branch``, in the jobs' order.
    A job bound to an environment signs in as `environment:<name>`, any other as the branch."""
    events = []
    for job in jobs_of(project, workflow):
        environment = job.body.get("environment")
        subject = f"environment:{environment}" if environment else f"ref:refs/heads/{branch}"
        signs_in_as = subject if uses_login(project, job.body) else None
        if environment:
            events.append(FlowEvent("environment", environment, job.path, job.after))
        for step in steps_of(project, job.body):
            if step.get("if") is False or "run" not in step:
                continue
            env = {**job.env, **step.get("env", {})}
            for call in make_calls(step["run"], env):
                for target in call_targets(call):
                    events.append(FlowEvent("make", target, job.path, job.after, signs_in_as, env))
    return events


def never_runs(condition) -> bool:
    """Whether an Azure DevOps condition is false whatever happens at run time: an and() of
    conditions (or one comparison) of which one compares two literals and does not hold."""
    if not isinstance(condition, str) or "or(" in condition or "not(" in condition:
        return False
    text = condition.strip()
    if not (text.startswith("and(") or CONSTANT_COMPARISON.fullmatch(text)):
        return False
    return any(
        (left.lower() == right.lower()) != (operator == "eq")
        for operator, left, right in CONSTANT_COMPARISON.findall(text)
    )


def pipeline_variables(pipeline: dict) -> dict[str, str]:
    return {v["name"]: v["value"] for v in pipeline.get("variables", []) if "name" in v}


def with_variables(value, variables: dict):
    """A `${{ variables.x }}` template expression replaced by the pipeline variable's value."""
    if not isinstance(value, str):
        return value
    return VARIABLE_EXPRESSION.sub(lambda m: str(variables[m[1]]), value)


def azure_devops_flow(project: Path, pipeline: str = "train-deploy.yml") -> list:
    """The events of a run of the pipeline, stage by stage in their order; steps whose condition
    can never hold left out. A stage without dependsOn follows the one before it."""
    compiled = load_pipeline(project / ".azure-pipelines" / pipeline)
    variables = pipeline_variables(compiled)
    events = []
    jobs_of_stage: dict[str, set[str]] = {}
    before_stage: dict[str, set[str]] = {}
    previous = None
    for stage in compiled["stages"]:
        stage_id = stage["stage"]
        depends = stage.get("dependsOn", [previous] if previous else [])
        depends = [depends] if isinstance(depends, str) else depends
        before = set()
        for needed in depends:
            assert needed in jobs_of_stage, f"{stage_id} depends on {needed}, not a stage before it"
            before |= jobs_of_stage[needed] | before_stage[needed]
        before_stage[stage_id] = before
        jobs_of_stage[stage_id] = set()
        for job in stage["jobs"]:
            name = f"{stage_id}/{job.get('job') or job.get('deployment')}"
            jobs_of_stage[stage_id].add(name)
            after = frozenset(before)
            if "deployment" in job:
                events.append(FlowEvent("environment", job["environment"], name, after))
            for step in all_steps(job):
                if never_runs(step.get("condition")):
                    continue
                connection = None
                if step.get("task", "").startswith("AzureCLI@"):
                    connection = with_variables(step["inputs"]["azureSubscription"], variables)
                env = step.get("env", {})
                for call in make_calls(script_of(step), env):
                    for target in call_targets(call):
                        events.append(FlowEvent("make", target, name, after, connection, env))
        previous = stage_id
    return events
