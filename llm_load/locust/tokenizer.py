"""`--tokenizer`: count tokens the way the target does, once at test start (never per request).

`prepare_fit(settings, model)` builds the run's `TokenFit` (`llm_load.core.scenario.tokens`)
for scenarios with synthetic prompts or prefixes, from the first counter that works:
- `server`: the target's own tokenize endpoint (`llm_load.core.wire.tokenize` shapes);
- a PATH: a local `tokenizer.json` (or a directory holding one) read with Hugging Face
  `tokenizers` (`pip install 'llm-load[tokenizers]'`; never a hub download);
- `usage`: probe chat requests (`max_tokens: 1`) whose `usage.prompt_tokens` is the count;
- `estimate`: none (~4 characters a token, as before).
Unset (`auto`) means `server`, else `usage`, else `estimate`. Then two probe chat requests
measure the chat template's overhead (prompt tokens around one user message) so that a
request's `input_tokens` is what `usage.prompt_tokens` will report.

`count_dataset(settings, model)`: with `--tokenizer server` or a PATH (not `usage`: a chat
request per entry), a `prompts.dataset` with length filters is selected again by real
counts, each entry counted once (`llm_load.core.scenario.datasets.select_counted`).
`tokenizer_summary` is the summary's `tokenizer` object of both.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from llm_load.core.scenario.datasets import DatasetCount, has_filters, select_counted
from llm_load.core.scenario.tokens import Count, TokenFit, fit_tokens
from llm_load.core.wire.tokenize import TOKENIZE_SHAPES, token_count
from llm_load.locust.settings import Settings

__all__ = ["CountedDataset", "count_dataset", "prepare_fit", "tokenizer_summary", "wants_fit"]

log = logging.getLogger("llm_load")
PROBE_WORDS = (16, 64)  # content tokens of the two template probes


class CountError(RuntimeError):
    """A counter that cannot count (no endpoint, no usage, no tokenizers package)."""


def wants_fit(settings: Settings) -> bool:
    """Whether the run writes prompts by token count (synthetic prompts or prefixes)."""
    scenario = settings.scenario
    if scenario is None or settings.tokenizer == "estimate":
        return False
    synthetic = scenario.prompts is not None and scenario.prompts.synthetic is not None
    return synthetic or scenario.trace is not None


def prepare_fit(settings: Settings, model: str) -> TokenFit | None:
    """The run's fit (see the module doc), or None: prompts then stay estimates."""
    mode = settings.tokenizer or "auto"
    tries = ("server", "usage") if mode == "auto" else (mode,)
    for source in tries:
        try:
            count, name, calls = _counted(*_counter(source, settings, model))
            fit = fit_tokens(count, name, seed=settings.scenario.seed if settings.scenario else 0)
            if fit is None:
                raise CountError("too few words count as one token each")
            fit = _with_overhead(fit, settings, model)
        except (CountError, requests.RequestException, ValueError) as error:
            level = log.info if mode == "auto" else log.error
            level("--tokenizer %s: %s", source, error)
            continue
        log.info("token-exact prompts: %s (%d counts)", fit.public(), calls[0])
        return fit
    log.warning("prompts are sized at ~4 characters a token (no tokenizer: --tokenizer)")
    return None


def _counted(count: Count, name: str) -> tuple[Count, str, list[int]]:
    """`count` wrapped to count its calls (for `usage`, each is a request to the target)."""
    calls = [0]

    def counted(text: str) -> int:
        calls[0] += 1
        return count(text)

    return counted, name, calls


def _counter(source: str, settings: Settings, model: str) -> tuple[Count, str]:
    if source == "server":
        return _server_counter(settings, model)
    if source == "usage":
        return lambda text: _probe(settings, model, text), "usage (probe requests)"
    return _file_counter(source)


def _post(settings: Settings, url: str, body: dict[str, Any]) -> Any:
    resp = requests.post(
        url,
        json=body,
        headers=settings.request_headers(),
        timeout=settings.request_timeout_s,
        verify=not settings.insecure,
    )
    if resp.status_code != 200:
        raise CountError(f"POST {url}: HTTP {resp.status_code}")
    return resp.json()


def _server_counter(settings: Settings, model: str) -> tuple[Count, str]:
    url = settings.base_url.removesuffix("/v1") + "/tokenize"
    for name, body in TOKENIZE_SHAPES:
        count = _server_count(settings, url, body, model)
        try:  # a server may ignore another's field and count an empty text: check both
            if count("the the") > count("the"):
                return count, f"server /tokenize ({name})"
        except (CountError, requests.RequestException, ValueError):
            continue
    raise CountError(f"no tokenize endpoint at {url}")


def _server_count(
    settings: Settings, url: str, body: Callable[[str, str], dict[str, Any]], model: str
) -> Count:
    def count(text: str) -> int:
        value = token_count(_post(settings, url, body(model, text)))
        if value is None:
            raise CountError(f"POST {url}: no token count in the answer")
        return value

    return count


def _file_counter(path: str) -> tuple[Count, str]:
    file = Path(path)
    file = file / "tokenizer.json" if file.is_dir() else file
    if not file.is_file():
        raise CountError(f"{path}: not 'server', 'usage', 'estimate' nor a tokenizer.json")
    try:
        from tokenizers import Tokenizer  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise CountError("a local tokenizer needs: pip install 'llm-load[tokenizers]'") from None
    tokenizer = Tokenizer.from_file(str(file))
    return lambda text: len(tokenizer.encode(text).ids), f"tokenizer.json {file}"


def _probe(settings: Settings, model: str, content: str) -> int:
    """`usage.prompt_tokens` of a one-token chat request with this user message."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 1,
        "stream": False,
    }
    doc = _post(settings, settings.base_url + "/chat/completions", body)
    tokens = (doc.get("usage") or {}).get("prompt_tokens") if isinstance(doc, dict) else None
    if not isinstance(tokens, int):
        raise CountError("the server's answer has no usage.prompt_tokens")
    return tokens


def _with_overhead(fit: TokenFit, settings: Settings, model: str) -> TokenFit:
    """`fit` with the chat template's overhead, measured by two probe requests."""
    rng = random.Random(0)
    overheads = {_probe(settings, model, fit.text(rng, n)) - n for n in PROBE_WORDS}
    if len(overheads) != 1:
        log.warning("chat template overhead varies with the length: %s", sorted(overheads))
    return TokenFit(fit.source, fit.words, fit.lead, max(overheads), fit.verified)


@dataclass(frozen=True, slots=True)
class CountedDataset:
    """A dataset selected by real counts: the selection, the counter's name, texts counted."""

    selection: DatasetCount
    source: str
    texts_counted: int

    def public(self) -> dict[str, Any]:
        return {**self.selection.public(), "texts_counted": self.texts_counted}


def count_dataset(settings: Settings, model: str) -> CountedDataset | None:
    """`prompts.dataset` selected by real counts (see the module doc), or None: the
    estimated selection stays (no tokenizer, `usage`, no length filter, or it failed)."""
    scenario = settings.scenario
    spec = scenario.prompts.dataset if scenario and scenario.prompts else None
    if spec is None or not has_filters(spec) or settings.tokenizer in ("", "usage", "estimate"):
        return None
    assert scenario is not None
    try:
        count, name, calls = _counted(*_counter(settings.tokenizer, settings, model))
        selection = select_counted(scenario.dataset_examples, spec, count)
    except (CountError, requests.RequestException, ValueError) as error:
        log.error("--tokenizer %s: dataset filters stay estimates: %s", settings.tokenizer, error)
        return None
    counted = CountedDataset(selection, name, calls[0])
    if not selection.dialogues:
        log.error(
            "no dataset entry passes the filters by %s: the estimated selection is sent", name
        )
    elif selection.limited:
        log.warning("dataset: only %d of %d entries counted (count_limit)", selection.counted,
                    selection.entries)  # fmt: skip
    log.info("dataset filters by %s: %s", name, counted.public())
    return counted


def tokenizer_summary(
    fit: TokenFit | None, dataset: CountedDataset | None
) -> dict[str, Any] | None:
    """The summary's `tokenizer` object: the fit's, and the dataset's selection."""
    out = fit.public() if fit is not None else {}
    if dataset is not None:
        out.setdefault("source", dataset.source)
        out["dataset"] = dataset.public()
    return out or None
