"""Random ids: the right length and alphabet, every character position uniform."""
from collections import Counter

from domain.ids import BASE62, ID_RANDOM_CHARS, new_id, random_base62


def test_ids_have_their_prefix_mode_and_random_part():
    made = new_id("cs", True)
    prefix, mode, rest = made.split("_")
    assert (prefix, mode, len(rest)) == ("cs", "live", ID_RANDOM_CHARS)
    assert set(rest) <= set(BASE62)
    assert new_id("pl", False).startswith("pl_test_")


def test_every_position_draws_from_the_whole_alphabet_evenly():
    draws = [random_base62(4) for _ in range(12_400)]
    assert len(set(draws)) > 12_300  # 62**4 = 14.8 million possibilities
    for position in range(4):
        counts = Counter(draw[position] for draw in draws)
        assert set(counts) == set(BASE62)  # the first and the last character too
        # 200 expected per character; a fair draw stays well inside these bounds
        assert 120 < min(counts.values()) and max(counts.values()) < 290
