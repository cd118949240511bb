"""Streaming chat load: `locust -f locustfiles/chat.py -H http://127.0.0.1:8000 --model M`."""

from locust import run_single_user

from llm_load.locust import LLMUser, install

install()


class ChatUser(LLMUser):
    """Sends `--prompt` as a streaming chat completion, back to back."""


if __name__ == "__main__":
    run_single_user(ChatUser)
