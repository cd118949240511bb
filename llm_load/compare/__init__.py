"""`llm-load compare`: send the same prompt to several models and compare them side by side.

A fixed number of passes per model, some models and some requests at a time, on the load
test's engine (in-process Locust, `LLMUser`, `MetricsBook`, `summary.json`). Settings come
from flags, the environment, a config file (the seed tester's `config.json`) and defaults,
in that order (`resolve_config`). The runner is imported only when a run starts, because
importing Locust patches the standard library for gevent.
"""

from llm_load.compare.command import add_arguments, main
from llm_load.compare.config import CompareConfig, ConfigError, load_config_file, resolve_config
from llm_load.compare.jobs import Job, JobBoard

__all__ = [
    "CompareConfig",
    "ConfigError",
    "Job",
    "JobBoard",
    "add_arguments",
    "load_config_file",
    "main",
    "resolve_config",
]
