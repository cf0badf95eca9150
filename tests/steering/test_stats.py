from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from welfare.steering.stats import cohens_d, ols_slope, rate, standardize


@settings(max_examples=40, deadline=None)
@given(
    slope=st.floats(-3, 3),
    noise=st.floats(0.01, 2),
    seed=st.integers(0, 2**16),
)
def test_ols_slope_and_se_match_scipy(slope, noise, seed):
    rng = np.random.default_rng(seed)
    alphas = np.repeat([-4.0, -2.0, 0.0, 2.0, 4.0], 7)
    values = 0.5 + slope * alphas + noise * rng.normal(size=alphas.size)
    fit = ols_slope(alphas, values)
    ref = sps.linregress(alphas, values)
    assert fit.slope == pytest.approx(ref.slope, abs=1e-9)
    assert fit.se == pytest.approx(ref.stderr, rel=1e-9)
    assert fit.intercept == pytest.approx(ref.intercept, abs=1e-9)
    assert fit.n == alphas.size


def test_ols_drops_unparseable_and_degenerate_inputs():
    fit = ols_slope([-1, 0, 1, 2], [0.0, float("nan"), 2.0, 3.0])
    assert fit.n == 3 and fit.slope == pytest.approx(1.0)
    assert math.isnan(ols_slope([1, 1, 1], [1, 2, 3]).slope)


def test_cohens_d_pooled_sd():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0])
    pooled = math.sqrt((3 * a.var(ddof=1) + 3 * b.var(ddof=1)) / 6)
    assert cohens_d(a, b) == pytest.approx(-2.0 / pooled)
    assert math.isnan(cohens_d([1.0], [2.0, 3.0]))


def test_standardize_and_rate():
    z = standardize([1.0, 2.0, 3.0, 10.0])
    assert z.mean() == pytest.approx(0) and z.std(ddof=1) == pytest.approx(1)
    assert rate(["a", "b", "x", "a"], {"a"}, exclude={"x"}) == pytest.approx(2 / 3)


def test_finite_or_none_for_strict_json():
    import json

    from welfare.steering.stats import finite_or_none

    data = {"a": float("nan"), "b": [1.0, float("inf"), np.float32(2.5)], "c": {"d": np.nan}}
    clean = finite_or_none(data)
    assert clean == {"a": None, "b": [1.0, None, 2.5], "c": {"d": None}}
    json.dumps(clean, allow_nan=False)
