"""`stamps.Marks.split` and `stamps.event_end`: which arrival each byte range read gets."""

from __future__ import annotations

from llm_load.locust.wire.stamps import Marks, event_end


def marks(*pairs: tuple[int, float]) -> Marks:
    m = Marks()
    m.ends = [end for end, _ in pairs]
    m.times = [at for _, at in pairs]
    return m


def test_a_read_is_split_at_the_peeked_marks():
    m = marks((100, 1.0), (250, 2.0), (400, 3.0))
    # read 320 bytes whose last segment arrived at 3.5 (the kernel merged the unread ones)
    assert m.split(320, 3.5) == [(100, 1.0), (150, 2.0), (70, 3.0)]
    assert m.consumed == 320 and m.ends == [400]
    assert m.split(200, 4.0) == [(80, 3.0), (120, 4.0)]
    assert m.consumed == 520 and m.ends == []


def test_bytes_before_a_mark_arrived_by_its_time_and_never_after_the_read_stamp():
    m = marks((300, 2.0))
    assert m.split(100, 9.0) == [(100, 2.0)]  # a header read that stops short of the mark
    assert m.split(200, 1.5) == [(200, 1.5)]  # the kernel's stamp is earlier: it wins
    assert m.split(50, None) == [(50, None)]  # no marks left, no stamp: unknown
    assert marks().split(10, 7.0) == [(10, 7.0)]


def test_event_end_finds_a_header_block_or_an_sse_event():
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
    assert event_end(head + b"5\r\ndata: x\n\n\r\n") == len(head)
    chunk = b'c\r\ndata: {"a"}\n\n'
    assert event_end(chunk + b"\r\nc\r\ndata: {}\n\n") == len(chunk)
    assert event_end(b"data: a\r\n\r\ndata: b\r\n\r\n") == len(b"data: a\r\n\r\n")
    assert event_end(b"data: partial") == len(b"data: partial")
