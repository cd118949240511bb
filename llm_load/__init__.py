"""llm-load: a distributed load generator for OpenAI-compatible LLM endpoints, on Locust."""

__all__ = ["__version__"]

__version__ = "0.1.0"
