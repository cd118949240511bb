"""Tool-call load, graded: `locust -f locustfiles/tools.py -H URL --model M [--tool-cases F]`."""

from locust import run_single_user

from llm_load.locust import ToolUser, install

install()


class ToolCallUser(ToolUser):
    """Sends the tool dataset's cases back to back; tool results go back up to --tool-turns."""


if __name__ == "__main__":
    run_single_user(ToolCallUser)
