"""Run a model's training pipeline on this machine, step by step, without Azure.

    python tools/run_pipeline_local.py models/model1/aml_config/train-pipeline.yml \
        --output-dir outputs/model1/pipeline [--set inputs.n_estimators=300] \
        [--set jobs.evaluate.inputs.production_model=outputs/model1/model] [--check]

`make pipeline-local [MODEL=<name>]` runs it. It reads the pipeline job and its command components
as Azure ML does and checks every binding of every step and every ``${{inputs.x}}`` and
``${{outputs.x}}`` of every command line before any step runs; then it runs each step's own
command line, in the order their inputs need them, in the component's code folder, with:
- a data input naming a data asset of aml/ (``azureml:<name>@latest``) read from that asset's
  local path (sample-data/), any other data input from the path it gives;
- each output of a step a fresh folder ``<output-dir>/<step>/<output>/``;
- MLflow pointed at one local store for the run (``<output-dir>/mlflow.db``, artifacts in
  ``<output-dir>/mlartifacts``), in the pipeline's experiment;
- ``python`` this interpreter. Environments, compute and resources are Azure ML's: not used here.
``--set`` overrides a pipeline input (``inputs.<name>=VALUE``) or binds a step input
(``jobs.<step>.inputs.<name>=VALUE``) for this run, as ``az ml job create --set`` does; a data
input's value is a local path. ``--check`` checks and prints the command lines, running nothing.

Exit codes: 0 every step completed (or, with --check, the pipeline is valid), 1 a step failed (the
later steps do not run), 2 the pipeline or a component is invalid (the message names the file and
the field).
"""

from __future__ import annotations

import argparse
import graphlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DATA_SCHEMA_SUFFIX = "/data.schema.json"
DATA_INPUT_TYPES = {"uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model"}
ASSET_REFERENCE = re.compile(r"azureml:(?P<name>[\w.-]+?)(?:@latest|:[\w.-]+)?")
PARENT_BINDING = re.compile(
    r"\$\{\{\s*parent\.(?:inputs\.(?P<input>\w+)|jobs\.(?P<job>[\w-]+)\.outputs\.(?P<job_output>\w+)"
    r"|outputs\.(?P<output>\w+))\s*\}\}"
)
COMMAND_BINDING = re.compile(r"\$\{\{\s*(?P<side>inputs|outputs)\.(?P<name>\w+)\s*\}\}")
OPTIONAL_SECTION = re.compile(r"\$\[\[(?P<text>.*?)\]\]", re.DOTALL)
ANY_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
LOCAL_TRACKING_DB = "mlflow.db"
LOCAL_ARTIFACTS = "mlartifacts"
DEFAULT_EXPERIMENT = "pipeline-local"


class SpecError(Exception):
    """The pipeline or a component cannot run as written; names the file and the field."""

    def __init__(self, path: Path, field_name: str, message: str):
        super().__init__(f"{shown(path)}: {field_name}: {message}")


class StepFailed(Exception):
    """A step's command exited with an error."""


@dataclass
class Step:
    name: str
    component: Path
    code_dir: Path
    command: list[str]
    outputs: dict[str, Path]


@dataclass
class Plan:
    steps: list[Step]
    experiment: str
    # pipeline output -> the folder a step writes it to
    outputs: dict[str, Path] = field(default_factory=dict)


def shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(path, "file", f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(path, "file", f"is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise SpecError(path, "file", "is not a YAML mapping")
    return document


def mapping(document: dict, key: str, path: Path, where: str = "") -> dict[str, Any]:
    value = document.get(key) or {}
    if not isinstance(value, dict):
        raise SpecError(path, f"{where}{key}", "must be a mapping")
    return value


def project_root(spec: Path) -> Path:
    """The folder above the spec that holds aml/, the shared specs."""
    spec = spec.resolve()
    return next((folder for folder in spec.parents if (folder / "aml").is_dir()), spec.parent)


def data_asset_paths(root: Path) -> dict[str, Path]:
    """Data asset name -> its local source, for every data asset spec of aml/."""
    assets = {}
    for spec in sorted((root / "aml").glob("*.yml")):
        document = read_yaml(spec)
        is_data = str(document.get("$schema", "")).endswith(DATA_SCHEMA_SUFFIX)
        if is_data and "name" in document and "path" in document:
            assets[str(document["name"])] = (spec.parent / str(document["path"])).resolve()
    return assets


def local_data_path(
    value: Any, spec: Path, field_name: str, assets: dict[str, Path]
) -> Path | None:
    """The local folder or file of a data input as a spec writes it (``path:``), if any."""
    path = value.get("path") if isinstance(value, dict) else None
    if path is None:
        return None
    reference = ASSET_REFERENCE.fullmatch(str(path))
    if reference is None:
        if str(path).startswith(("azureml:", "azureml://", "http://", "https://")):
            raise SpecError(spec, f"{field_name}.path", f"{path} has no local copy; --set it")
        return (spec.parent / str(path)).resolve()
    if reference["name"] not in assets:
        names = ", ".join(sorted(assets)) or "none"
        raise SpecError(
            spec,
            f"{field_name}.path",
            f"{path} is no data asset of aml/ (data assets: {names}); --set a local path",
        )
    return assets[reference["name"]]


def is_data_input(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in DATA_INPUT_TYPES


def pipeline_inputs(
    pipeline: dict, spec: Path, overrides: dict[str, str], assets: dict[str, Path]
) -> dict[str, Any]:
    """Pipeline input -> its local value: a path for a data input, the literal otherwise."""
    values = {}
    for name, value in mapping(pipeline, "inputs", spec).items():
        if is_data_input(value):
            values[name] = local_data_path(value, spec, f"inputs.{name}", assets)
        elif isinstance(value, dict):
            values[name] = value.get("default", value.get("value"))
        else:
            values[name] = value
    for key, text in overrides.items():
        name = key.removeprefix("inputs.")
        if name not in values:
            raise SpecError(
                spec, key, f"--set names no input of the pipeline ({inputs_of(values)})"
            )
        values[name] = override_value(pipeline["inputs"][name], text)
    return values


def override_value(declared: Any, text: str) -> Any:
    """A --set value: a local path for a data input, else the YAML scalar (300 is a number)."""
    return Path(text).resolve() if is_data_input(declared) else yaml.safe_load(text)


def inputs_of(names) -> str:
    return "inputs: " + (", ".join(sorted(names)) or "none")


def component_file(job: dict, spec: Path, step: str) -> Path:
    reference = job.get("component")
    if not isinstance(reference, str):
        raise SpecError(spec, f"jobs.{step}.component", "must name a component file")
    if reference.startswith("azureml:"):
        raise SpecError(
            spec, f"jobs.{step}.component", f"{reference} is registered; runs only local files"
        )
    path = (spec.parent / reference.removeprefix("file:")).resolve()
    if not path.is_file():
        raise SpecError(spec, f"jobs.{step}.component", f"{reference} does not exist")
    return path


def step_order(jobs: dict[str, Any], spec: Path) -> list[str]:
    """The steps in an order where each runs after the steps whose outputs it reads."""
    graph: dict[str, set[str]] = {}
    for step, job in jobs.items():
        bindings = mapping(job, "inputs", spec, f"jobs.{step}.").values()
        needed = {m["job"] for v in bindings for m in PARENT_BINDING.finditer(str(v)) if m["job"]}
        graph[step] = {name for name in needed if name in jobs}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise SpecError(spec, "jobs", f"the steps read each other's outputs: {cycle}") from None


class PipelinePlanner:
    """Resolves every binding of a pipeline job to local values, checking them as it goes."""

    def __init__(self, spec: Path, output_dir: Path, overrides: dict[str, str]):
        self.spec = spec.resolve()
        self.output_dir = output_dir.resolve()
        self.pipeline = read_yaml(self.spec)
        self.assets = data_asset_paths(project_root(self.spec))
        pipeline_overrides = {k: v for k, v in overrides.items() if k.startswith("inputs.")}
        self.step_overrides = {k: v for k, v in overrides.items() if k not in pipeline_overrides}
        self.inputs = pipeline_inputs(self.pipeline, self.spec, pipeline_overrides, self.assets)
        self.pipeline_outputs = mapping(self.pipeline, "outputs", self.spec)
        self.jobs = mapping(self.pipeline, "jobs", self.spec)
        if not self.jobs:
            raise SpecError(self.spec, "jobs", "the pipeline has no steps")
        self.component_files = {
            step: component_file(job, self.spec, step) for step, job in self.jobs.items()
        }
        self.components = {step: read_yaml(path) for step, path in self.component_files.items()}
        self.check_step_overrides()

    def check_step_overrides(self) -> None:
        for key in self.step_overrides:
            step, _, name = key.removeprefix("jobs.").partition(".inputs.")
            if not key.startswith("jobs.") or step not in self.jobs or not name:
                raise SpecError(
                    self.spec, key, "--set takes inputs.<name> or jobs.<step>.inputs.<name>"
                )

    def output_folder(self, step: str, output: str) -> Path:
        return self.output_dir / step / output

    def plan(self) -> Plan:
        experiment = str(self.pipeline.get("experiment_name") or DEFAULT_EXPERIMENT)
        plan = Plan(steps=[], experiment=experiment)
        for step in step_order(self.jobs, self.spec):
            plan.steps.append(self.plan_step(step, plan))
        return plan

    def plan_step(self, step: str, plan: Plan) -> Step:
        job, component = self.jobs[step], self.components[step]
        path = self.component_files[step]
        if job.get("type", "command") != "command" or component.get("type") != "command":
            raise SpecError(path, "type", "runs only command components")
        declared_inputs = mapping(component, "inputs", path)
        declared_outputs = mapping(component, "outputs", path)
        values = self.step_inputs(step, declared_inputs, path)
        outputs = {name: self.output_folder(step, name) for name in declared_outputs}
        for name, binding in mapping(job, "outputs", self.spec, f"jobs.{step}.").items():
            where = f"jobs.{step}.outputs.{name}"
            if name not in declared_outputs:
                raise SpecError(
                    self.spec,
                    where,
                    f"{shown(path)} has no output {name} (outputs: {', '.join(declared_outputs)})",
                )
            match = PARENT_BINDING.fullmatch(str(binding))
            if match is None or not match["output"]:
                expected = "${{parent.outputs.<name>}}"
                raise SpecError(self.spec, where, f"{binding} is not {expected}")
            if match["output"] not in self.pipeline_outputs:
                names = ", ".join(self.pipeline_outputs) or "none"
                raise SpecError(
                    self.spec, where, f"the pipeline has no output {match['output']} ({names})"
                )
            plan.outputs[match["output"]] = outputs[name]
        return Step(
            name=step,
            component=path,
            code_dir=self.code_dir(component, path),
            command=self.command(component, path, values, outputs),
            outputs=outputs,
        )

    def step_inputs(self, step: str, declared: dict[str, Any], path: Path) -> dict[str, Any]:
        """Component input -> its value for this step (None for an unbound optional input)."""
        bindings = dict(mapping(self.jobs[step], "inputs", self.spec, f"jobs.{step}."))
        prefix = f"jobs.{step}.inputs."
        for key, text in self.step_overrides.items():
            if key.startswith(prefix):
                name = key.removeprefix(prefix)
                bindings[name] = override_value(declared.get(name), text)
        values = {}
        for name, binding in bindings.items():
            where = f"jobs.{step}.inputs.{name}"
            if name not in declared:
                raise SpecError(
                    self.spec, where, f"{shown(path)} has no input {name} ({inputs_of(declared)})"
                )
            values[name] = self.resolve(binding, where)
        for name, declaration in declared.items():
            declaration = declaration if isinstance(declaration, dict) else {}
            if values.get(name) is not None:
                continue
            if "default" in declaration:
                values[name] = declaration["default"]
            elif declaration.get("optional"):
                values[name] = None
            else:
                raise SpecError(
                    self.spec,
                    f"jobs.{step}.inputs",
                    f"input {name} of {shown(path)} is required and not bound",
                )
        return values

    def resolve(self, binding: Any, where: str) -> Any:
        if isinstance(binding, Path) or binding is None:
            return binding
        if isinstance(binding, dict):
            return local_data_path(binding, self.spec, where, self.assets)
        text = str(binding)
        match = PARENT_BINDING.fullmatch(text.strip())
        if match is None:
            if ANY_EXPRESSION.search(text):
                raise SpecError(self.spec, where, f"{text} is not a binding this tool knows")
            return binding
        name = match["input"]
        if name:
            if name not in self.inputs:
                listed = inputs_of(self.inputs)
                raise SpecError(
                    self.spec, where, f"{text}: the pipeline has no input {name} ({listed})"
                )
            return self.inputs[name]
        if match["job"]:
            return self.job_output(match["job"], match["job_output"], text, where)
        raise SpecError(self.spec, where, f"{text}: a step input cannot read a pipeline output")

    def job_output(self, step: str, output: str, text: str, where: str) -> Path:
        if step not in self.jobs:
            raise SpecError(
                self.spec, where, f"{text}: no step {step} (steps: {', '.join(self.jobs)})"
            )
        outputs = mapping(self.components[step], "outputs", self.component_files[step])
        if output not in outputs:
            raise SpecError(
                self.spec,
                where,
                f"{text}: step {step} has no output {output} (outputs: {', '.join(outputs)})",
            )
        return self.output_folder(step, output)

    @staticmethod
    def code_dir(component: dict, path: Path) -> Path:
        code = component.get("code")
        if not isinstance(code, str):
            raise SpecError(path, "code", "must name the folder the command runs in")
        folder = (path.parent / code.removeprefix("file:")).resolve()
        if not folder.is_dir():
            raise SpecError(path, "code", f"{code} is not a folder ({folder})")
        return folder

    @staticmethod
    def command(
        component: dict, path: Path, inputs: dict[str, Any], outputs: dict[str, Path]
    ) -> list[str]:
        """The component's command line with its bindings replaced, as Azure ML replaces them."""
        template = component.get("command")
        if not isinstance(template, str) or not template.strip():
            raise SpecError(path, "command", "missing")

        def optional_section(match: re.Match) -> str:
            """$[[...]] stays when every input it names is bound, as in Azure ML."""
            found = COMMAND_BINDING.finditer(match["text"])
            bound = all(inputs[m["name"]] is not None for m in found if m["side"] == "inputs")
            return f" {match['text']} " if bound else " "

        for reference in COMMAND_BINDING.finditer(template):
            side, name = reference["side"], reference["name"]
            declared = inputs if side == "inputs" else outputs
            if name not in declared:
                raise SpecError(
                    path,
                    "command",
                    f"{reference[0]} names no {side[:-1]} of the component "
                    f"({side}: {', '.join(declared) or 'none'})",
                )
        words = shlex.split(OPTIONAL_SECTION.sub(optional_section, template))

        def value(match: re.Match) -> str:
            found = (inputs if match["side"] == "inputs" else outputs)[match["name"]]
            if found is None:
                raise SpecError(
                    path,
                    "command",
                    f"input {match['name']} is optional and unbound: put its flag in $[[...]]",
                )
            return str(found)

        command = [COMMAND_BINDING.sub(value, word) for word in words]
        leftover = next((word for word in command if ANY_EXPRESSION.search(word)), None)
        if leftover:
            raise SpecError(path, "command", f"{leftover} is not a binding this tool knows")
        if command and command[0] == "python":
            command[0] = sys.executable
        return command


def tracking_environment(output_dir: Path, experiment: str) -> dict[str, str]:
    """One local MLflow store for every step of the run, its artifacts beside it.

    MLflow would put a new store's artifacts in ./mlruns of the first step's folder (the model's
    code); the experiment is created here with its artifact location in the outputs instead.
    """
    import mlflow

    tracking_uri = f"sqlite:///{(output_dir / LOCAL_TRACKING_DB).as_posix()}"
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    if client.get_experiment_by_name(experiment) is None:
        artifacts = (output_dir / LOCAL_ARTIFACTS).as_uri()
        client.create_experiment(experiment, artifact_location=artifacts)
    return {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_EXPERIMENT_NAME": experiment}


def run_plan(plan: Plan, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **tracking_environment(output_dir, plan.experiment)}
    for step in plan.steps:
        shutil.rmtree(output_dir / step.name, ignore_errors=True)
        for folder in step.outputs.values():
            folder.mkdir(parents=True)
        print(f"[{step.name}] {shlex.join(step.command)}", flush=True)
        result = subprocess.run(step.command, cwd=step.code_dir, env=environment, check=False)
        if result.returncode != 0:
            raise StepFailed(
                f"step {step.name} failed with exit code {result.returncode} "
                f"(the command of {shown(step.component)}); the later steps did not run"
            )


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--set: expected KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value
    return overrides


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run a training pipeline's steps locally.")
    parser.add_argument("pipeline", type=Path, help="the pipeline job spec (train-pipeline.yml)")
    parser.add_argument(
        "--output-dir", type=Path, required=True, help="where each step's outputs are written"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="inputs.<name>=VALUE or jobs.<step>.inputs.<name>=VALUE, for this run",
    )
    parser.add_argument(
        "--check", action="store_true", help="check the pipeline and print its commands only"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        overrides = parse_overrides(args.overrides)
        plan = PipelinePlanner(args.pipeline, args.output_dir, overrides).plan()
    except (SpecError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        for step in plan.steps:
            print(f"[{step.name}] {shlex.join(step.command)}")
        print(f"{shown(args.pipeline)}: {len(plan.steps)} steps, every binding resolves")
        return 0
    try:
        run_plan(plan, args.output_dir.resolve())
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"pipeline {shown(args.pipeline)} completed; its outputs:")
    for name, folder in plan.outputs.items():
        print(f"  {name}: {shown(folder)}")
    store = (args.output_dir.resolve() / LOCAL_TRACKING_DB).as_posix()
    print(f"MLflow runs: mlflow ui --backend-store-uri sqlite:///{store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
