"""YAML scenario load: `locust -f locustfiles/scenario.py --scenario scenarios/smoke.yaml`."""

from locust import run_single_user

from llm_load.locust import ScenarioShape, ScenarioUser, install

install()


class LLMScenarioUser(ScenarioUser):
    """Sends the scenario's model mix, prompts and conversations."""


class LLMScenarioShape(ScenarioShape):
    """The scenario's stages; Locust's -u/-r when it has none."""


if __name__ == "__main__":
    run_single_user(LLMScenarioUser)
