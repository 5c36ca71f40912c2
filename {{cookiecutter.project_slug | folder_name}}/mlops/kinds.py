"""The kinds of Azure ML spec mlops knows: one entry each, holding everything that handles the kind.

Adding a kind is one entry in KINDS (docs/adding-an-asset-kind.md); tests/test_kinds.py checks
that every entry has all it needs: its loaders exist in azure-ai-ml, its MLClient operations and
its dry-run request builder exist, its naming rules are rules of mlops.naming.

References to code are by name, resolved when used, so that this table imports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Where the load functions of azure-ai-ml live (not all of them are exported from azure.ai.ml).
LOADERS_MODULE = "azure.ai.ml.entities._load_functions"
ENDPOINT_NAMES = {"name": "endpoint"}
DEPLOYMENT_NAMES = {"name": "endpoint", "endpoint_name": "endpoint"}


@dataclass(frozen=True)
class Kind:
    """One kind of spec.

    ``schemas``: the ``$schema`` file names of the kind (``<name>.schema.json``), each with the
    azure-ai-ml function that loads it. ``applied``: ``mlops apply`` creates or updates it, in the
    order of KINDS, through ``operations`` (an MLClient attribute): ``create_or_update`` for a
    ``versioned`` asset (a new version only when its content changed), else
    ``begin_create_or_update``, waited for. Otherwise ``command`` names the mlops command that
    handles it, or ``hint`` says what to use. ``request_builder``: the function of mlops.payloads
    that shows it in a dry run. ``named_fields``: spec field -> rule of mlops.naming.
    """

    name: str
    title: str
    schemas: Mapping[str, str]
    operations: str | None = None
    applied: bool = False
    versioned: bool = False
    command: str | None = None
    hint: str | None = None
    request_builder: str | None = None
    named_fields: Mapping[str, str] = field(default_factory=dict)
    keeps_live_traffic: bool = False

    def elsewhere(self) -> str:
        """What handles this kind, for a command that does not."""
        return f"use `mlops {self.command}`" if self.command else str(self.hint)


# In the order `mlops apply` creates them: each after what it may refer to.
KINDS = (
    Kind(
        name="compute",
        title="compute",
        schemas={
            "amlCompute": "load_compute",
            "computeInstance": "load_compute",
            "kubernetesCompute": "load_compute",
        },
        operations="compute",
        applied=True,
        request_builder="compute_requests",
        named_fields={"name": "compute"},
    ),
    Kind(
        name="environment",
        title="environment",
        schemas={"environment": "load_environment"},
        operations="environments",
        applied=True,
        versioned=True,
        request_builder="environment_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="data",
        title="data asset",
        schemas={"data": "load_data"},
        operations="data",
        applied=True,
        versioned=True,
        request_builder="data_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="model",
        title="model",
        schemas={"model": "load_model"},
        operations="models",
        applied=True,
        versioned=True,
        request_builder="model_requests",
        named_fields={"name": "asset"},
    ),
    Kind(
        name="online_endpoint",
        title="online endpoint",
        schemas={
            "managedOnlineEndpoint": "load_online_endpoint",
            "kubernetesOnlineEndpoint": "load_online_endpoint",
        },
        operations="online_endpoints",
        applied=True,
        request_builder="online_endpoint_requests",
        named_fields=ENDPOINT_NAMES,
        keeps_live_traffic=True,
    ),
    Kind(
        name="batch_endpoint",
        title="batch endpoint",
        schemas={"batchEndpoint": "load_batch_endpoint"},
        operations="batch_endpoints",
        applied=True,
        request_builder="batch_endpoint_requests",
        named_fields=ENDPOINT_NAMES,
        # Its live traffic is its default deployment, which mlops deploy-batch sets.
        keeps_live_traffic=True,
    ),
    Kind(
        name="batch_deployment",
        title="batch deployment",
        schemas={
            "batchDeployment": "load_batch_deployment",
            # Specs with a `settings:` block, which load_batch_deployment refuses.
            "modelBatchDeployment": "load_model_batch_deployment",
            "pipelineComponentBatchDeployment": "load_pipeline_component_batch_deployment",
        },
        operations="batch_deployments",
        command="deploy-batch",
        request_builder="batch_deployment_requests",
        named_fields=DEPLOYMENT_NAMES,
    ),
    Kind(
        name="job",
        title="job",
        schemas={
            "commandJob": "load_job",
            "sweepJob": "load_job",
            "pipelineJob": "load_job",
            "sparkJob": "load_job",
        },
        operations="jobs",
        command="train",
        request_builder="job_requests",
        named_fields={"name": "asset", "experiment_name": "experiment"},
    ),
    Kind(
        name="online_deployment",
        title="online deployment",
        schemas={
            "managedOnlineDeployment": "load_online_deployment",
            "kubernetesOnlineDeployment": "load_online_deployment",
        },
        operations="online_deployments",
        command="deploy",
        request_builder="online_deployment_requests",
        named_fields=DEPLOYMENT_NAMES,
    ),
    Kind(
        name="workspace",
        title="workspace",
        schemas={"workspace": "load_workspace"},
        hint="create the workspace once with `az ml workspace create --file aml/workspace.yml`",
    ),
    Kind(
        name="component",
        title="component",
        schemas={
            "commandComponent": "load_component",
            "pipelineComponent": "load_component",
            "parallelComponent": "load_component",
        },
        versioned=True,
        hint="mlops does not create components yet: `az ml component create --file` does",
    ),
    Kind(
        name="datastore",
        title="datastore",
        schemas={
            "azureBlob": "load_datastore",
            "azureFile": "load_datastore",
            "azureDataLakeGen1": "load_datastore",
            "azureDataLakeGen2": "load_datastore",
        },
        hint="mlops does not create datastores yet: `az ml datastore create --file` does",
    ),
    Kind(
        name="schedule",
        title="schedule",
        schemas={"schedule": "load_schedule"},
        operations="schedules",
        applied=True,
        request_builder="schedule_requests",
        named_fields={"name": "asset"},
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
BY_SCHEMA = {schema: kind for kind in KINDS for schema in kind.schemas}
APPLIED = tuple(kind for kind in KINDS if kind.applied)


def kind_named(name: str) -> Kind:
    return BY_NAME[name]


def kind_of_schema_file(schema_file: str) -> Kind | None:
    """The kind whose specs start with ``$schema: .../<schema_file>.schema.json``, or None."""
    return BY_SCHEMA.get(schema_file)


def apply_order(kind: Kind) -> int:
    return APPLIED.index(kind)
