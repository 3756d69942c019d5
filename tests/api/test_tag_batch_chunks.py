"""How `Tagger.tag_batch` cuts its items into graph calls (pure Python, no model)."""

import random

from nlpseq.api.tagger import _length_chunks


def test_chunks_cover_every_item_once_within_both_budgets():
    rng = random.Random(0)
    items = [(i, ["w"] * rng.choice([1, 2, 3, 5, 8, 13, 40, 120])) for i in range(500)]
    chunks = list(_length_chunks(items, len, batch_size=64, max_tokens=512))
    assert sorted(i for chunk in chunks for i, _ in chunk) == list(range(500))
    for chunk in chunks:
        width = max(len(x) for _, x in chunk)
        assert len(chunk) <= 64
        # A chunk stays within the word budget, unless it is one item longer than the budget.
        assert len(chunk) * width <= 512 or len(chunk) == 1
        assert [len(x) for _, x in chunk] == sorted((len(x) for _, x in chunk), reverse=True)
    # Short items share big calls; the 120-word items go four to a call.
    assert max(len(c) for c in chunks) == 64
    assert all(len(c) == 4 for c in chunks if len(c[0][1]) == 120)


def test_an_item_over_the_budget_and_empty_items_get_calls():
    items = [(0, ["w"] * 10), (1, []), (2, []), (3, ["w"])]
    chunks = list(_length_chunks(items, len, batch_size=8, max_tokens=4))
    assert [[i for i, _ in c] for c in chunks] == [[0], [3, 1, 2]]
