"""Property tests: a split conserves the pool to the cent, deterministically and fairly."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from rewards.split import CENT, split_pool

pools = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2)
weight_maps = st.dictionaries(
    st.integers(min_value=1, max_value=10**6),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("1000"), places=6),
    min_size=1,
    max_size=60,
)


@given(pools, weight_maps)
def test_shares_add_up_to_the_pool_exactly(pool, weights):
    shares = split_pool(pool, weights)
    if sum(weights.values()) > 0 and pool > 0:
        assert sum(shares.values()) == pool
    else:
        assert shares == {}


@given(pools, weight_maps)
def test_every_share_is_whole_cents_and_within_a_cent_of_exact(pool, weights):
    shares = split_pool(pool, weights)
    total = sum(weights.values())
    for key, share in shares.items():
        assert share == share.quantize(CENT) and share > 0
        exact = pool * weights[key] / total
        assert abs(share - exact) < CENT


@given(pools, weight_maps)
def test_the_same_inputs_give_the_same_split_in_any_order(pool, weights):
    reordered = dict(reversed(list(weights.items())))
    assert split_pool(pool, weights) == split_pool(pool, reordered)


def test_a_cent_left_over_goes_to_the_largest_remainder_then_the_lower_key():
    assert split_pool(Decimal("1.00"), {1: Decimal(1), 2: Decimal(1), 3: Decimal(1)}) == {
        1: Decimal("0.34"),
        2: Decimal("0.33"),
        3: Decimal("0.33"),
    }
