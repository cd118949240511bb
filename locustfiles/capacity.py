"""Capacity search: `locust -f locustfiles/capacity.py --scenario S.yaml` (S has `capacity:`);
`llm-load capacity -H URL --slo 'ttft_ms.p99 <= 500'` runs it for you."""

from locust import run_single_user

from llm_load.locust import ScenarioUser, install
from llm_load.locust.capacity import CapacityShape, install_capacity

install()
install_capacity()


class LLMScenarioUser(ScenarioUser):
    """Sends the scenario's model mix, prompts and conversations."""


class LLMCapacityShape(CapacityShape):
    """Steps the load through the scenario's capacity search."""


if __name__ == "__main__":
    run_single_user(LLMScenarioUser)
