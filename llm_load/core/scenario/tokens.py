"""Prompts of an exact token count, as the target's own tokenizer counts them.

A `Count` is any function giving the token count of a text: the server's `/tokenize`
endpoint, a local `tokenizer.json`, or the `usage.prompt_tokens` of a probe request (which
includes the chat template: a constant, so differences still count tokens). `fit_tokens`
uses it once, before any traffic, to find `words`: common words that each add exactly one
token after a space, whatever text precedes them (checked after texts of 4 lengths, and in
groups of words of one length, so a tokenizer that counts characters passes no word by
chance). A prompt of N tokens is
then `lead` plus N-1 such words drawn at random: exact, unique and built without counting
on the hot path. `verified` says how many random sample texts came out exact. The chat
template's `overhead` (tokens around one user message) is measured by the caller and kept
here, so that `input_tokens` means what `usage.prompt_tokens` will say.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["CANDIDATE_WORDS", "Count", "TokenFit", "fit_tokens", "one_token_words"]

Count = Callable[[str], int]

LEAD = "the"
MIN_WORDS = 4  # fewer one-token words than this: prompts would repeat too much to be useful
VERIFY_TEXTS = 3
VERIFY_WORDS = 120
# Words that most tokenizers keep whole (English and programming vocabulary).
CANDIDATE_WORDS = (
    "the", "and", "for", "was", "are", "not", "you", "all", "can", "had", "her", "one",
    "our", "out", "day", "get", "has", "him", "his", "how", "man", "new", "now", "old",
    "see", "two", "way", "who", "boy", "did", "its", "let", "put", "say", "she", "too",
    "use", "of", "to", "in", "is", "it", "as", "be", "by", "on", "or", "at", "an", "we",
    "if", "so", "no", "up", "do", "my", "me", "that", "with", "this", "from", "have",
    "they", "will", "what", "when", "make", "time", "like", "just", "know", "take",
    "into", "year", "some", "them", "than", "then", "look", "only", "come", "over",
    "also", "back", "work", "first", "well", "even", "want", "because", "any", "these",
    "give", "most", "self", "def", "return", "import", "class", "None", "True", "False",
    "value", "name", "data", "list", "dict", "type", "line", "file", "path", "text",
    "args", "key", "size", "result", "node", "item", "test", "error", "start", "end",
)  # fmt: skip
BASES = ("", "x", "xy", "xyz")  # the lead's text at 4 lengths (0-3 mod 4)


def one_token_words(
    count: Count, candidates: Sequence[str] = CANDIDATE_WORDS, lead: str = LEAD
) -> tuple[str, ...]:
    """The `candidates` that each add exactly one token after a space. Words of one length
    are checked as a group, split in halves only when it fails: few calls when most pass."""
    bases = {lead + base: count(lead + base) for base in BASES}

    def adds_one_each(words: Sequence[str]) -> bool:
        tail = " " + " ".join(words)
        return all(count(base + tail) - n == len(words) for base, n in bases.items())

    def passing(words: Sequence[str]) -> tuple[str, ...]:
        if adds_one_each(words):
            return tuple(words)
        if len(words) == 1:
            return ()
        half = len(words) // 2
        return passing(words[:half]) + passing(words[half:])

    lengths = sorted({len(word) for word in candidates})
    found = (passing([w for w in candidates if len(w) == size]) for size in lengths)
    chosen = {word for group in found for word in group}
    return tuple(word for word in candidates if word in chosen)


@dataclass(frozen=True, slots=True)
class TokenFit:
    """How to write a prompt of N tokens for one target (see the module doc)."""

    source: str  # "server /tokenize (vllm)", "tokenizer.json PATH", "usage", ...
    words: tuple[str, ...]
    lead: str = LEAD
    overhead: int = 0  # chat-template tokens around one user message's content
    verified: tuple[int, int] = (0, 0)  # (exact, checked) random sample texts

    def content_tokens(self, input_tokens: int) -> int:
        """Tokens of the message content for `input_tokens` in all (at least 1)."""
        return max(1, input_tokens - self.overhead)

    def text(self, rng: random.Random, input_tokens: int) -> str:
        """A message content giving `input_tokens` prompt tokens, template included."""
        n = self.content_tokens(input_tokens) - 1
        return " ".join((self.lead, *rng.choices(self.words, k=n))) if n else self.lead

    def public(self) -> dict[str, Any]:
        """As shown in the summary's `tokenizer`."""
        exact, checked = self.verified
        return {
            "source": self.source,
            "template_overhead_tokens": self.overhead,
            "words": len(self.words),
            "verified": f"{exact}/{checked} sample texts exact",
        }


def fit_tokens(count: Count, source: str, seed: int = 0) -> TokenFit | None:
    """The fit for `count`, or None when too few words are one token each."""
    words = one_token_words(count)
    if len(words) < MIN_WORDS:
        return None
    fit = TokenFit(source, words)
    rng = random.Random(seed)
    base = count(LEAD)
    exact = 0
    for _ in range(VERIFY_TEXTS):
        text = fit.text(rng, VERIFY_WORDS)
        exact += count(text) - base == VERIFY_WORDS - 1
    return replace(fit, verified=(exact, VERIFY_TEXTS))
