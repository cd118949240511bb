"""The master's `tokenizer` object from its workers' final reports."""

from llm_load.locust.roles import workers_tokenizer

SERVER = {"source": "server /tokenize (vllm)", "template_overhead_tokens": 10, "words": 110}


def test_workers_that_agree_give_one_object_and_their_number():
    assert workers_tokenizer({"w2": dict(SERVER), "w1": dict(SERVER)}) == {**SERVER, "workers": 2}


def test_workers_that_differ_are_each_shown():
    fallback = {"source": "usage (probe requests)", "template_overhead_tokens": 10, "words": 90}
    merged = workers_tokenizer({"w2": fallback, "w1": SERVER})
    assert merged == {**SERVER, "workers": 2, "by_worker": {"w1": SERVER, "w2": fallback}}
