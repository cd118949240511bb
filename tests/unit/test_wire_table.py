"""The endpoint protocol table's chat row and the wire patch's version guard."""

from __future__ import annotations

import pytest

from llm_load.core.wire.chat import ChatStream, chat_request_body
from llm_load.core.wire.protocols import CHAT, PROTOCOLS, Call
from llm_load.locust.wire.patches import check_version

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("stream", [True, False])
def test_the_chat_row_builds_the_chat_body(stream):
    call = Call("m", MESSAGES, max_tokens=8, temperature=None, stream=stream, extra={"seed": 1})
    expected = chat_request_body(
        "m", MESSAGES, max_tokens=8, temperature=None, stream=stream, extra={"seed": 1}
    )
    assert CHAT.body(call) == expected
    assert PROTOCOLS["chat"] is CHAT and CHAT.path == "/chat/completions"


def test_the_chat_row_parses_a_completion_and_rejects_non_json():
    acc = CHAT.new_stream()
    assert isinstance(acc, ChatStream)
    body = b'{"choices":[{"message":{"content":"hello"},"finish_reason":"stop"}]}'
    CHAT.parse(acc, body)
    assert (acc.content, acc.finish_reason, acc.done) == ("hello", "stop", True)
    with pytest.raises(ValueError):
        CHAT.parse(CHAT.new_stream(), b"<html>oops</html>")
    assert CHAT.error_message(b'{"error": {"message": "bad model"}}') == "bad model"


@pytest.mark.parametrize("version", ["2.3.0", "2.6.1", "2.99"])
def test_supported_geventhttpclient_versions_pass(version):
    check_version(version)


@pytest.mark.parametrize("version", ["1.5.5", "2.2.9", "3.0.0", "dev"])
def test_an_unsupported_geventhttpclient_fails_loudly(version):
    with pytest.raises(RuntimeError, match=f"but {version} is installed"):
        check_version(version)
