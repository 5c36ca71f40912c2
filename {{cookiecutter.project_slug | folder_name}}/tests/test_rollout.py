"""The blue/green rollout: planning as pure logic, and the runner against an in-memory endpoint."""

from __future__ import annotations

import pytest

from mlops.deploy import SmokeTestFailed, check_smoke_answer, run_plan
from mlops.errors import AzureFailure, InvalidInput
from mlops.invoke import Answer
from mlops.rollout import (
    CreateDeployment,
    CreateEndpoint,
    DeleteDeployment,
    EndpointState,
    Pause,
    RolloutRefused,
    SetTraffic,
    SmokeTest,
    parse_traffic,
    parse_traffic_steps,
    plan_rollout,
    recovery_steps,
)

ENDPOINT = "churn-prod-ab12c"


def live_on(name: str, *others: str) -> EndpointState:
    return EndpointState(True, {name: 100}, (name, *others))


# planning


def test_no_endpoint_yet():
    plan = plan_rollout(ENDPOINT, EndpointState.missing())

    assert (plan.live, plan.new) == (None, "blue")
    assert plan.steps == (
        CreateEndpoint(ENDPOINT),
        CreateDeployment("blue"),
        SmokeTest("blue"),
        SetTraffic((("blue", 100),)),
    )


def test_endpoint_without_deployments():
    plan = plan_rollout(ENDPOINT, EndpointState(True))

    assert plan.steps == (CreateDeployment("blue"), SmokeTest("blue"), SetTraffic((("blue", 100),)))


def test_blue_live_goes_green():
    plan = plan_rollout(ENDPOINT, live_on("blue"))

    assert (plan.live, plan.new) == ("blue", "green")
    assert plan.steps == (
        CreateDeployment("green"),
        SmokeTest("green"),
        SetTraffic((("green", 100), ("blue", 0))),
        DeleteDeployment("blue"),
    )


def test_green_live_goes_blue():
    plan = plan_rollout(ENDPOINT, live_on("green"))

    assert (plan.live, plan.new) == ("green", "blue")
    assert plan.steps[-1] == DeleteDeployment("green")


def test_a_live_deployment_of_another_name_is_replaced_by_blue():
    plan = plan_rollout(ENDPOINT, live_on("default"))

    assert (plan.live, plan.new) == ("default", "blue")
    assert plan.steps[-1] == DeleteDeployment("default")


def test_stepped_traffic_smoke_tests_and_pauses_between_steps():
    plan = plan_rollout(ENDPOINT, live_on("blue"), traffic_steps=(10, 50, 100), pause_seconds=60)

    assert plan.steps == (
        CreateDeployment("green"),
        SmokeTest("green"),
        SetTraffic((("green", 10), ("blue", 90))),
        Pause(60),
        SmokeTest("green"),
        SetTraffic((("green", 50), ("blue", 50))),
        Pause(60),
        SmokeTest("green"),
        SetTraffic((("green", 100), ("blue", 0))),
        DeleteDeployment("blue"),
    )


def test_first_deployment_takes_all_traffic_at_once():
    plan = plan_rollout(ENDPOINT, EndpointState.missing(), traffic_steps=(10, 100))

    assert [step for step in plan.steps if isinstance(step, SetTraffic)] == [
        SetTraffic((("blue", 100),))
    ]


def test_without_smoke_request_there_is_no_smoke_test():
    plan = plan_rollout(ENDPOINT, live_on("blue"), smoke_test=False)

    assert not any(isinstance(step, SmokeTest) for step in plan.steps)


def test_leftover_deployment_of_the_new_colour_is_replaced():
    plan = plan_rollout(ENDPOINT, EndpointState(True, {"blue": 100, "green": 0}, ("blue", "green")))

    assert plan.steps[:2] == (DeleteDeployment("green"), CreateDeployment("green"))


def test_split_traffic_is_refused():
    state = EndpointState(True, {"blue": 90, "green": 10}, ("blue", "green"))

    with pytest.raises(RolloutRefused, match="splits traffic between blue=90, green=10"):
        plan_rollout(ENDPOINT, state)


# recovery, step by step


def test_failed_endpoint_creation_needs_no_recovery():
    plan = plan_rollout(ENDPOINT, EndpointState.missing())

    assert recovery_steps(plan, 0) == ()


def test_failed_creation_deletes_the_new_deployment():
    plan = plan_rollout(ENDPOINT, live_on("blue"))

    assert recovery_steps(plan, plan.steps.index(CreateDeployment("green"))) == (
        DeleteDeployment("green"),
    )


def test_failed_smoke_test_leaves_traffic_and_deletes_the_new_deployment():
    plan = plan_rollout(ENDPOINT, live_on("blue"))

    assert recovery_steps(plan, plan.steps.index(SmokeTest("green"))) == (
        DeleteDeployment("green"),
    )


def test_failure_after_traffic_moved_restores_traffic_first():
    plan = plan_rollout(ENDPOINT, live_on("blue"), traffic_steps=(10, 50, 100))
    second_smoke_test = [i for i, s in enumerate(plan.steps) if s == SmokeTest("green")][1]

    assert recovery_steps(plan, second_smoke_test) == (
        SetTraffic((("blue", 100),)),
        DeleteDeployment("green"),
    )


def test_failed_traffic_change_restores_traffic():
    plan = plan_rollout(ENDPOINT, live_on("blue"))
    traffic_step = next(i for i, s in enumerate(plan.steps) if isinstance(s, SetTraffic))

    assert recovery_steps(plan, traffic_step) == (
        SetTraffic((("blue", 100),)),
        DeleteDeployment("green"),
    )


def test_failed_deletion_of_the_old_deployment_undoes_nothing():
    plan = plan_rollout(ENDPOINT, live_on("blue"))

    assert recovery_steps(plan, len(plan.steps) - 1) == ()


def test_failed_deletion_of_a_leftover_needs_no_recovery():
    plan = plan_rollout(ENDPOINT, EndpointState(True, {"blue": 100}, ("blue", "green")))

    assert recovery_steps(plan, 0) == ()


# the runner, against an endpoint held in memory


class FakeEndpoint:
    """An online endpoint in memory that applies rollout steps and fails where it is told to."""

    def __init__(self, state: EndpointState, fail_on=None, failing_smoke_answer=None):
        self.exists = state.exists
        self.traffic = dict(state.traffic)
        self.deployments = set(state.deployments)
        self.fail_on = fail_on
        self.failing_smoke_answer = failing_smoke_answer
        self.executed = []

    def execute(self, step):
        self.executed.append(step)
        if step == self.fail_on:
            raise RuntimeError(f"service error during {step.describe()}")
        if isinstance(step, CreateEndpoint):
            self.exists = True
        elif isinstance(step, CreateDeployment):
            self.deployments.add(step.deployment)
        elif isinstance(step, SmokeTest):
            answer = self.failing_smoke_answer or '{"predictions": [0], "probabilities": [0.1]}'
            check_smoke_answer(step.deployment, Answer(200, answer))
        elif isinstance(step, SetTraffic):
            self.traffic = {name: share for name, share in step.traffic if share}
        elif isinstance(step, DeleteDeployment):
            assert not self.traffic.get(step.deployment), "cannot delete a deployment with traffic"
            self.deployments.discard(step.deployment)


def test_runner_moves_all_traffic_and_removes_the_old_deployment():
    endpoint = FakeEndpoint(live_on("blue"))
    plan = plan_rollout(ENDPOINT, live_on("blue"), traffic_steps=(20, 100))

    run_plan(plan, endpoint.execute)

    assert endpoint.traffic == {"green": 100}
    assert endpoint.deployments == {"green"}
    assert endpoint.executed == list(plan.steps)


def test_runner_creates_a_missing_endpoint():
    endpoint = FakeEndpoint(EndpointState.missing())

    run_plan(plan_rollout(ENDPOINT, EndpointState.missing()), endpoint.execute)

    assert endpoint.exists
    assert endpoint.traffic == {"blue": 100}


def test_failed_smoke_test_keeps_traffic_and_deletes_the_new_deployment():
    endpoint = FakeEndpoint(live_on("blue"), failing_smoke_answer='{"error": "model not loaded"}')
    plan = plan_rollout(ENDPOINT, live_on("blue"))

    with pytest.raises(AzureFailure) as failure:
        run_plan(plan, endpoint.execute)

    assert failure.value.exit_code == 1
    message = str(failure.value)
    assert "smoke-test deployment green failed" in message
    assert "model not loaded" in message
    assert "traffic left as it was" in message
    assert endpoint.traffic == {"blue": 100}
    assert endpoint.deployments == {"blue"}
    assert not any(isinstance(step, SetTraffic) for step in endpoint.executed)


def test_failed_creation_deletes_the_half_created_deployment():
    endpoint = FakeEndpoint(live_on("blue"), fail_on=CreateDeployment("green"))

    with pytest.raises(AzureFailure, match="create deployment green failed: service error"):
        run_plan(plan_rollout(ENDPOINT, live_on("blue")), endpoint.execute)

    assert endpoint.executed[-1] == DeleteDeployment("green")
    assert endpoint.traffic == {"blue": 100}
    assert endpoint.deployments == {"blue"}


def test_failure_midway_puts_traffic_back():
    plan = plan_rollout(ENDPOINT, live_on("blue"), traffic_steps=(10, 50, 100))
    endpoint = FakeEndpoint(live_on("blue"), fail_on=SetTraffic((("green", 50), ("blue", 50))))

    with pytest.raises(AzureFailure, match="recovered: set traffic blue=100"):
        run_plan(plan, endpoint.execute)

    assert endpoint.traffic == {"blue": 100}
    assert endpoint.deployments == {"blue"}


def test_failed_cleanup_reports_where_traffic_is():
    endpoint = FakeEndpoint(live_on("blue"), fail_on=DeleteDeployment("blue"))

    with pytest.raises(AzureFailure, match="all traffic is on green, delete blue by hand"):
        run_plan(plan_rollout(ENDPOINT, live_on("blue")), endpoint.execute)

    assert endpoint.traffic == {"green": 100}


def test_failed_recovery_is_reported():
    class BrokenEndpoint(FakeEndpoint):
        def execute(self, step):
            if isinstance(step, DeleteDeployment):
                raise RuntimeError("deletion refused")
            super().execute(step)

    endpoint = BrokenEndpoint(live_on("blue"), failing_smoke_answer="not json")

    with pytest.raises(AzureFailure, match="could not delete deployment green: deletion refused"):
        run_plan(plan_rollout(ENDPOINT, live_on("blue")), endpoint.execute)


# smoke answers and flags


@pytest.mark.parametrize(
    "answer", ['{"predictions": [1], "probabilities": [0.9]}', '"{\\"predictions\\": [1]}"']
)
def test_smoke_test_accepts_a_json_answer(answer):
    check_smoke_answer("green", Answer(200, answer))


@pytest.mark.parametrize(
    ("status", "answer", "reason"),
    [
        (200, '{"error": "bad input"}', "answered with an error: bad input"),
        (200, "<html>502</html>", "answered with non-JSON: <html>502</html>"),
        (400, '{"error": "tenure_months is missing"}', "HTTP 400: tenure_months is missing"),
        (
            500,
            '{"error": {"code": "Boom", "message": "scoring failed"}}',
            "HTTP 500: scoring failed",
        ),
        (502, "", "HTTP 502: an empty body"),
    ],
)
def test_smoke_test_refuses_errors_and_non_json(status, answer, reason):
    with pytest.raises(SmokeTestFailed, match=reason):
        check_smoke_answer("green", Answer(status, answer))


@pytest.mark.parametrize(
    ("text", "steps"), [("100", (100,)), ("10,50,100", (10, 50, 100)), ("25, 100", (25, 100))]
)
def test_traffic_steps(text, steps):
    assert parse_traffic_steps(text) == steps


@pytest.mark.parametrize("text", ["", "abc", "0,100", "50,50,100", "10,150", "10,50"])
def test_bad_traffic_steps(text):
    with pytest.raises(InvalidInput):
        parse_traffic_steps(text)


def test_current_traffic():
    assert parse_traffic("blue=90, green=10") == {"blue": 90, "green": 10}
    with pytest.raises(InvalidInput):
        parse_traffic("blue=90,green=20")
