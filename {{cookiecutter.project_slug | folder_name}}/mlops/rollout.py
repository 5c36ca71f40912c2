"""Blue/green rollout on a managed online endpoint, as pure planning logic.

``plan_rollout`` turns the endpoint's current state into the steps of a rollout: create the endpoint
if it is missing, create the new deployment under the colour that is not live, smoke-test it by
name, move traffic to it (at once or in steps), then delete the deployment that was live.
``recovery_steps`` says what to do when a step fails: traffic goes back to where it was and the new
deployment is deleted. The runner in ``mlops.deploy`` executes both against Azure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mlops.errors import InvalidInput, MlopsError

COLOURS = ("blue", "green")
FULL_TRAFFIC = 100


class RolloutRefused(MlopsError):
    """The endpoint is in a state a rollout must not start from."""


@dataclass(frozen=True)
class EndpointState:
    exists: bool
    traffic: Mapping[str, int] = field(default_factory=dict)
    deployments: tuple[str, ...] = ()

    @classmethod
    def missing(cls) -> EndpointState:
        return cls(exists=False)

    @property
    def live(self) -> list[str]:
        return sorted(name for name, share in self.traffic.items() if share > 0)


@dataclass(frozen=True)
class CreateEndpoint:
    endpoint: str

    def describe(self) -> str:
        return f"create endpoint {self.endpoint}"


@dataclass(frozen=True)
class CreateDeployment:
    deployment: str

    def describe(self) -> str:
        return f"create deployment {self.deployment}"


@dataclass(frozen=True)
class SmokeTest:
    deployment: str

    def describe(self) -> str:
        return f"smoke-test deployment {self.deployment}"


@dataclass(frozen=True)
class SetTraffic:
    traffic: tuple[tuple[str, int], ...]

    def describe(self) -> str:
        shares = ", ".join(f"{name}={share}" for name, share in self.traffic) or "none"
        return f"set traffic {shares}"

    def as_dict(self) -> dict[str, int]:
        return dict(self.traffic)


@dataclass(frozen=True)
class Pause:
    seconds: int

    def describe(self) -> str:
        return f"wait {self.seconds}s before moving more traffic"


@dataclass(frozen=True)
class DeleteDeployment:
    deployment: str

    def describe(self) -> str:
        return f"delete deployment {self.deployment}"


Step = CreateEndpoint | CreateDeployment | SmokeTest | SetTraffic | Pause | DeleteDeployment


@dataclass(frozen=True)
class RolloutPlan:
    endpoint: str
    live: str | None
    new: str
    original_traffic: tuple[tuple[str, int], ...]
    steps: tuple[Step, ...]

    def summary(self) -> dict[str, object]:
        return {
            "endpoint": self.endpoint,
            "live": self.live,
            "new": self.new,
            "traffic_before": dict(self.original_traffic),
            "steps": [step.describe() for step in self.steps],
        }


def parse_traffic_steps(text: str) -> tuple[int, ...]:
    """``"10,50,100"`` -> (10, 50, 100): rising percentages that end at 100."""
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise InvalidInput(
            f"--traffic-steps: not a comma-separated list of numbers: {text}"
        ) from exc
    if any(not 0 < share <= FULL_TRAFFIC for share in steps):
        raise InvalidInput(f"--traffic-steps: each step is a percentage from 1 to 100: {text}")
    if list(steps) != sorted(set(steps)) or steps[-1] != FULL_TRAFFIC:
        raise InvalidInput(f"--traffic-steps: steps must rise and end at 100: {text}")
    return steps


def parse_traffic(text: str) -> dict[str, int]:
    """``"blue=90,green=10"`` -> {"blue": 90, "green": 10}."""
    traffic: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, share = part.partition("=")
        if not sep or not name.strip() or not share.strip().isdigit():
            raise InvalidInput(f"--current-traffic: expected NAME=PERCENT, got {part!r}")
        traffic[name.strip()] = int(share)
    if sum(traffic.values()) > FULL_TRAFFIC:
        raise InvalidInput(f"--current-traffic: shares add up to more than 100: {text}")
    return traffic


def other_colour(live: str | None) -> str:
    return COLOURS[1] if live == COLOURS[0] else COLOURS[0]


def plan_rollout(
    endpoint: str,
    state: EndpointState,
    traffic_steps: Sequence[int] = (FULL_TRAFFIC,),
    pause_seconds: int = 0,
    smoke_test: bool = True,
) -> RolloutPlan:
    """The steps that move ``endpoint`` from its live deployment to a new one."""
    live_deployments = state.live
    if len(live_deployments) > 1:
        shares = ", ".join(f"{name}={state.traffic[name]}" for name in live_deployments)
        raise RolloutRefused(
            f"endpoint {endpoint} splits traffic between {shares}; "
            "finish or undo that rollout before starting another"
        )
    live = live_deployments[0] if live_deployments else None
    new = other_colour(live)
    original = tuple(sorted((name, share) for name, share in state.traffic.items() if share > 0))

    steps: list[Step] = []
    if not state.exists:
        steps.append(CreateEndpoint(endpoint))
    elif new in state.deployments:
        # A leftover deployment without traffic (a failed rollout's) is replaced, not reused.
        steps.append(DeleteDeployment(new))
    steps.append(CreateDeployment(new))
    if smoke_test:
        steps.append(SmokeTest(new))
    if live is None:
        steps.append(SetTraffic(((new, FULL_TRAFFIC),)))
    else:
        for index, share in enumerate(traffic_steps):
            if index > 0:
                if pause_seconds:
                    steps.append(Pause(pause_seconds))
                if smoke_test:
                    steps.append(SmokeTest(new))
            if share == FULL_TRAFFIC:
                steps.append(SetTraffic(((new, FULL_TRAFFIC), (live, 0))))
            else:
                steps.append(SetTraffic(((new, share), (live, FULL_TRAFFIC - share))))
        steps.append(DeleteDeployment(live))
    return RolloutPlan(endpoint, live, new, original, tuple(steps))


def recovery_steps(plan: RolloutPlan, failed_index: int) -> tuple[Step, ...]:
    """What undoes the rollout after ``plan.steps[failed_index]`` failed.

    Before the new deployment exists nothing needs undoing. Once it exists, traffic goes back to
    where it was (if any moved, or the failed step was moving it) and the new deployment is deleted.
    When only the old deployment's deletion failed, the rollout itself is done: nothing is undone.
    """
    done = plan.steps[:failed_index]
    failed = plan.steps[failed_index]
    created = isinstance(failed, CreateDeployment) or any(
        isinstance(step, CreateDeployment) for step in done
    )
    if not created:
        return ()
    if isinstance(failed, DeleteDeployment) and failed.deployment == plan.live:
        return ()
    steps: list[Step] = []
    if any(isinstance(step, SetTraffic) for step in (*done, failed)):
        steps.append(SetTraffic(plan.original_traffic))
    steps.append(DeleteDeployment(plan.new))
    return tuple(steps)
