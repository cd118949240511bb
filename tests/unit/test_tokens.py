"""Token-exact prompts: one-token words found with few counts, exact texts for several
tokenizers (words, characters / 4, a real BPE tokenizer.json), the overhead applied."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from llm_load.core.scenario.tokens import TokenFit, fit_tokens, one_token_words
from llm_load.core.wire.tokenize import token_count


def words_count(text: str) -> int:
    """BOS + one token per word, two for words longer than 5 letters."""
    return 1 + sum(1 if len(w) <= 5 else 2 for w in re.findall(r"\S+", text))


def chars_count(text: str) -> int:
    """The mock's tokenizer: BOS + one token per 4 characters."""
    return len(text) // 4 + 1


@pytest.mark.parametrize("count", [words_count, chars_count])
def test_fitted_texts_have_exactly_the_tokens_asked_for(count):
    fit = fit_tokens(count, "test")
    assert fit is not None and fit.verified == (3, 3)
    rng = random.Random(1)
    overhead = count(fit.text(rng, 16)) - 16  # as the probe request measures it
    for n in (1, 2, 17, 300, 1024):
        assert count(fit.text(rng, n)) - overhead == n
    texts = {fit.text(rng, 50) for _ in range(20)}
    assert len(texts) == 20  # unique prompts: no accidental prefix-cache hits


def test_chars_tokenizer_keeps_only_words_of_three_letters():
    words = one_token_words(chars_count)
    assert words and all(len(w) == 3 for w in words)


def test_words_tokenizer_drops_long_words_with_few_counts():
    calls = []

    def count(text: str) -> int:
        calls.append(text)
        return words_count(text)

    words = one_token_words(count)
    assert "because" not in words and "return" not in words and "the" in words
    assert len(calls) < 200


def test_overhead_is_taken_off_the_content():
    fit = TokenFit("t", ("a", "b"), overhead=10)
    rng = random.Random(0)
    assert len(fit.text(rng, 300).split()) == 290
    assert fit.text(rng, 5) == "the"  # at least one content token
    assert fit.public()["template_overhead_tokens"] == 10


def test_too_few_one_token_words_gives_no_fit():
    assert fit_tokens(lambda text: len(text), "chars") is None


def test_a_real_tokenizer_json_when_available():
    tokenizers = pytest.importorskip("tokenizers")
    path = Path("/work/venvs/vllm/tiny-model/tokenizer.json")
    if not path.is_file():
        pytest.skip("no tokenizer.json on this machine")
    tok = tokenizers.Tokenizer.from_file(str(path))
    fit = fit_tokens(lambda text: len(tok.encode(text).ids), "file")
    assert fit is not None and fit.verified == (3, 3)


@pytest.mark.parametrize(
    ("answer", "count"),
    [
        ({"count": 5, "tokens": [1, 2, 3, 4, 5]}, 5),  # vLLM
        ({"tokens": [1, 2, 3]}, 3),  # llama.cpp
        ([{"id": 1}, {"id": 2}], 2),  # TGI
        ({"error": "no"}, None),
        ("text", None),
    ],
)
def test_tokenize_answers(answer, count):
    assert token_count(answer) == count
