"""The mock's --parallel slots: FIFO queue, cancelled waiters skipped, slots handed over."""

from llm_load.mock.slots import Slots


def test_requests_beyond_the_limit_wait_in_order():
    slots, started = Slots(2), []
    waits = [slots.acquire(lambda i=i: started.append(i)) for i in range(4)]
    assert started == [0, 1] and waits[:2] == [None, None] and slots.waiting == 2
    slots.release()
    assert started == [0, 1, 2]
    slots.release()
    assert started == [0, 1, 2, 3] and slots.free == 0
    slots.release()
    slots.release()
    assert slots.free == 2


def test_a_waiter_whose_client_left_is_skipped():
    slots, started = Slots(1), []
    slots.acquire(lambda: started.append("a"))
    gone = slots.acquire(lambda: started.append("b"))
    slots.acquire(lambda: started.append("c"))
    assert gone is not None
    gone.abort()
    slots.release()
    assert started == ["a", "c"] and slots.waiting == 0


def test_zero_means_unlimited():
    slots, started = Slots(0), []
    for i in range(100):
        assert slots.acquire(lambda i=i: started.append(i)) is None
    assert len(started) == 100
