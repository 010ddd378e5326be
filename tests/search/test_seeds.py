"""The same search twice tries the same networks: every seed path is deterministic, seed 0 included (Keras
Tuner replaces a seed of 0 with a random one; archspec gives it seed + 1)."""

import pytest

kt = pytest.importorskip("keras_tuner")

from builders.search.objectives import Objective  # noqa: E402
from builders.search.oracles import TUNERS, make_oracle, tuner_seed  # noqa: E402

from .test_search import SPACE, _oracle_and_model  # noqa: E402


def _proposals(path, tuner, seed, n=8):
    oracle, _ = _oracle_and_model(path, tuner=tuner, seed=seed)
    return oracle.seed, [oracle._random_values() for _ in range(n)]


@pytest.mark.parametrize("tuner", TUNERS)
@pytest.mark.parametrize("seed", [0, 7])
def test_the_same_seed_proposes_the_same_candidates(write_spec, tuner, seed):
    path = write_spec(SPACE)
    first, again = _proposals(path, tuner, seed), _proposals(path, tuner, seed)
    assert first == again and first[0] == seed + 1


def test_seed_zero_is_not_replaced_by_a_random_one():
    seeds = {make_oracle("random", (Objective("val_accuracy", "max"),), 5, 0, 2).seed for _ in range(5)}
    assert seeds == {tuner_seed(0)} == {1}
    assert make_oracle("random", (Objective("val_accuracy", "max"),), 5, None, 2).seed != 0
