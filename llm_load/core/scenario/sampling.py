"""Seeded sampling of a scenario's requests: model mix, prompts, conversations, think time.

Pure and reproducible: every draw comes from one `random.Random(seed)` per user. Synthetic
prompts are deterministic word sequences of about the requested input length (~4
characters per token); a synthetic output length becomes the request's `max_tokens`.
A `Conversation` yields one `ChatRequest` per turn; with `multi_turn` it carries the
whole history (system, user, assistant, user, ...) for N turns, then starts a new
conversation: each later user turn is a new synthetic text of `input_tokens` (after any
shared prefix, which only opens the conversation), another prompt's last user message, or
a dataset conversation's next user turn; the assistant messages are the model's streamed
replies or, with `replies: dataset`, the dataset's recorded ones. Requests of a multi-turn
conversation carry their `turn` (1-based), recorded per request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from llm_load.core.scenario.datasets import Dialogue
from llm_load.core.scenario.schema import Dist, ModelSpec, Scenario
from llm_load.core.scenario.tokens import TokenFit
from llm_load.core.scenario.trace import TraceEntry
from llm_load.core.tools.cases import ToolCase

__all__ = ["CHARS_PER_TOKEN", "ChatRequest", "Conversation", "Sampler", "synthetic_text"]

CHARS_PER_TOKEN = 4
WORDS = (
    "the", "model", "serves", "tokens", "fast", "while", "a", "queue", "of", "users",
    "waits", "for", "each", "reply", "in", "turn", "and", "every", "stream", "carries",
    "text", "about", "load", "latency", "cache", "memory", "batch", "prefill", "decode",
    "river", "mountain", "garden", "robot", "paint", "story", "light", "window", "paper",
    "music", "number", "signal", "engine",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One request to send: model, messages and per-request body settings."""

    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    input_tokens: int | None = None  # the prompt tokens asked for (synthetic prompts)
    turn: int | None = None  # 1-based turn of a multi-turn conversation (None: single)


def synthetic_text(rng: random.Random, tokens: int) -> str:
    """About `tokens` tokens (~4 chars each) of words drawn from `rng`."""
    target = max(1, tokens) * CHARS_PER_TOKEN
    words: list[str] = []
    size = 0
    while size <= target:  # size counts one separator per word: the joined text is size - 1
        batch = rng.choices(WORDS, k=max(1, (target - size) // 5 + 1))
        for word in batch:
            words.append(word)
            size += len(word) + 1
            if size > target:
                break
    return " ".join(words)[:target]


def draw(rng: random.Random, dist: Dist) -> int:
    """One length (tokens) from a distribution."""
    if dist.fixed is not None:
        return dist.fixed
    if dist.uniform is not None:
        return rng.randint(*dist.uniform)
    spec = dist.normal
    assert spec is not None  # the schema guarantees exactly one kind
    return min(spec.max, max(spec.min, round(rng.gauss(spec.mean, spec.std))))


class Sampler:
    """Draws models, prompts and think times of one scenario from one seeded RNG."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | str | None = None,
        fit: TokenFit | None = None,
        dialogues: list[Dialogue] | None = None,
    ) -> None:
        self.scenario = scenario
        # the dataset's conversations: the scenario's, or those selected by real counts
        self.dialogues = dialogues or scenario.dialogues
        self.conversations = (
            [d.opening() for d in dialogues] if dialogues else scenario.conversations
        )
        self.fit = fit  # exact token counts (else ~4 characters a token)
        self.input_tokens: int | None = None  # of the last synthetic prompt
        self._prefixes = shared_prefixes(scenario, fit)
        self.rng = random.Random(scenario.seed if seed is None else seed)
        self._models = list(scenario.models)
        self._weights = [m.weight for m in self._models]
        synthetic = scenario.prompts.synthetic if scenario.prompts is not None else None
        self._synthetic = synthetic
        self._text_rng = (
            random.Random(f"{synthetic.seed}:{seed}")
            if synthetic is not None and synthetic.seed is not None
            else self.rng
        )

    def model(self) -> ModelSpec:
        return self.rng.choices(self._models, self._weights)[0]

    def prompt(self) -> list[dict[str, str]]:
        """The messages that open a conversation (a fresh copy)."""
        if self._synthetic is not None:
            tokens = self.input_tokens = draw(self._text_rng, self._synthetic.input_tokens)
            if self._prefixes:
                return [{"role": "user", "content": self._prefixed(tokens)}]
            return [{"role": "user", "content": self._unique(tokens)}]
        chosen = self.rng.choice(self.conversations)
        return [dict(m) for m in chosen]

    def _unique(self, tokens: int) -> str:
        """`tokens` prompt tokens of fresh text (exact, template included, with a fit)."""
        rng, fit = self._text_rng, self.fit
        return fit.text(rng, tokens) if fit is not None else synthetic_text(rng, tokens)

    def dialogue(self) -> Dialogue:
        """A dataset conversation to replay turn by turn."""
        return self.rng.choice(self.dialogues)

    def _prefixed(self, tokens: int) -> str:
        """A group's shared prefix, then `tokens` unique tokens (the template's overhead
        taken off them, so the prompt is prefix + `tokens` in all)."""
        prefix = self.scenario.prefix
        assert prefix is not None
        text = self.rng.choices(self._prefixes, prefix.weights)[0]
        assert self.input_tokens is not None
        self.input_tokens += prefix.tokens
        rng, fit = self._text_rng, self.fit
        if fit is None:
            return text + " " + synthetic_text(rng, tokens)
        words = rng.choices(fit.words, k=max(1, tokens - fit.overhead))
        return text + " " + " ".join(words)

    def from_trace(self, entry: TraceEntry) -> ChatRequest:
        """A traced request: its `hash_ids` as shared blocks (the same text for an id in
        every process), then unique tokens up to its input length; its output length."""
        spec = self.scenario.trace
        assert spec is not None
        size, fit, rng = spec.block_tokens, self.fit, self._text_rng
        content = entry.input_tokens - (fit.overhead if fit is not None else 0)
        k = min(len(entry.hash_ids), max(0, content) // size)  # whole blocks that fit
        parts = [self._block(h, size) for h in entry.hash_ids[:k]]
        rest = content - k * size  # unique tokens after the blocks (the template counted)
        if fit is None:
            parts.append(synthetic_text(rng, max(1, rest)))
        elif k == 0:
            parts.append(fit.text(rng, entry.input_tokens))
        elif rest > 0:
            parts.append(" ".join(rng.choices(fit.words, k=rest)))
        m = self.model()
        message = {"role": "user", "content": " ".join(parts)}
        return ChatRequest(
            m.name, [message], entry.output_tokens, m.temperature, m.extra, entry.input_tokens
        )

    def _block(self, hash_id: int, tokens: int) -> str:
        rng = random.Random(f"{self.scenario.seed}:block:{hash_id}")
        if self.fit is None:
            return synthetic_text(rng, tokens)
        return " ".join((self.fit.lead, *rng.choices(self.fit.words, k=tokens - 1)))

    def follow_up(self) -> dict[str, str]:
        """The next user turn of a conversation: a synthetic text of `input_tokens` (no
        shared prefix: that opened the conversation), else a new prompt's last user message."""
        if self._synthetic is not None:
            tokens = draw(self._text_rng, self._synthetic.input_tokens)
            return {"role": "user", "content": self._unique(tokens)}
        users = [m for m in self.prompt() if m["role"] == "user"]
        return users[-1] if users else {"role": "user", "content": "Go on."}

    def max_tokens(self, model: ModelSpec) -> int | None:
        """`output.tokens` or the synthetic output length, else the model's `max_tokens`
        (None: the default)."""
        output = self.scenario.output
        if output is not None and output.tokens is not None:
            return draw(self._text_rng, output.tokens)
        if self._synthetic is not None and self._synthetic.output_tokens is not None:
            return draw(self._text_rng, self._synthetic.output_tokens)
        return model.max_tokens

    def tool_case(self) -> ToolCase | None:
        """A tool case for the next task, or None when this one is a prompt request."""
        tools = self.scenario.tools
        cases = self.scenario.tool_cases
        if tools is None or not cases:
            return None
        if tools.share < 1.0 and self.rng.random() >= tools.share:
            return None
        return self.rng.choice(cases)

    def think_time_s(self) -> float:
        value = self.scenario.load.think_time_s
        if isinstance(value, tuple):
            return self.rng.uniform(*value)
        return value


def shared_prefixes(scenario: Scenario, fit: TokenFit | None) -> list[str]:
    """The `prefix:` groups' texts: the same for every user and worker (seeded per group);
    each exactly `tokens` content tokens with a fit."""
    prefix = scenario.prefix
    if prefix is None:
        return []
    texts = []
    for group in range(prefix.groups):
        rng = random.Random(f"{scenario.seed}:prefix:{group}")
        if fit is None:
            texts.append(synthetic_text(rng, prefix.tokens))
        else:
            texts.append(" ".join((fit.lead, *rng.choices(fit.words, k=prefix.tokens - 1))))
    return texts


class Conversation:
    """The requests of one user: single requests, or multi-turn histories (module doc)."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        multi = sampler.scenario.multi_turn
        self.multi = multi is not None
        self.turns = (multi.turns if multi is not None else 1) or 0  # 0: the dataset's own
        self.replies = multi.replies if multi is not None else "model"
        self.replay = self.multi and bool(sampler.scenario.dialogues)
        self.turn = 0
        self.history: list[dict[str, str]] = []
        self.model: ModelSpec | None = None
        self.dialogue: Dialogue | None = None

    @property
    def needs_reply(self) -> bool:
        """Whether the next turn's history needs the model's reply text."""
        return self.multi and self.replies == "model"

    def next_request(self) -> ChatRequest:
        """The next request: a new conversation, or the next turn of the current one."""
        s = self.sampler
        asked = None
        if self.turn == 0 or self.model is None:
            self.model = s.model()
            self.dialogue = s.dialogue() if self.replay else None
            self.history = self.dialogue.opening() if self.dialogue else s.prompt()
            asked = s.input_tokens
        elif self.dialogue is not None:
            self.history.append({"role": "user", "content": self.dialogue.turns[self.turn][0]})
        else:
            self.history.append(s.follow_up())
        self.turn += 1
        m = self.model
        return ChatRequest(
            m.name,
            list(self.history),
            s.max_tokens(m),
            m.temperature,
            m.extra,
            asked,
            self.turn if self.multi else None,
        )

    @property
    def _last_turn(self) -> int:
        """The number of turns of the current conversation."""
        if self.dialogue is None:
            return self.turns
        own = len(self.dialogue.turns)
        return min(self.turns, own) if self.turns else own

    def reply(self, text: str | None) -> None:
        """The assistant's reply to the last request (None when it failed: start over)."""
        if text is None or not self.multi or self.turn >= self._last_turn:
            self.turn = 0
            return
        if self.dialogue is not None and self.replies == "dataset":
            text = self.dialogue.turns[self.turn - 1][1]
            if not text:  # none recorded: the next user turn follows the last directly
                return
        self.history.append({"role": "assistant", "content": text})
