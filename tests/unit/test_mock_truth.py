"""The mock's truth store keeps a bounded window of records but counts every request."""

from llm_load.mock.truth import TruthStore


def test_total_counts_past_the_cap_and_resets():
    store = TruthStore(max_records=3)
    for i in range(5):
        store.new(float(i))
    snap = store.snapshot()
    assert (snap["count"], snap["total"]) == (3, 5)
    assert [r["id"] for r in snap["requests"]] == [3, 4, 5]
    store.reset()
    assert store.snapshot()["total"] == 0 and len(store) == 0
