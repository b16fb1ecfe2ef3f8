"""Every rule on small cases computed by hand from its paper's definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from secfl import robust
from secfl.errors import ConfigurationError
from secfl.robust import AggregationContext


def col(*values: float) -> np.ndarray:
    """A column of 1-D points as an n x 1 float32 matrix."""
    return np.asarray(values, dtype=np.float32)[:, None]


def test_mean_weighted() -> None:
    x = np.array([[1.0, 0.0], [3.0, 4.0]], dtype=np.float32)
    out = robust.get("mean").aggregate(x, [1, 2], np.array([1.0, 3.0]))
    np.testing.assert_allclose(out.vector, [2.5, 3.0])


def test_median_odd_and_even() -> None:
    """Yin et al. 2018: coordinate-wise median; even n averages the two middle values."""
    x = np.array([[1, 10], [2, 20], [3, 30], [100, -5], [4, 40]], dtype=np.float32)
    out = robust.get("median").aggregate(x, range(5))
    np.testing.assert_array_equal(out.vector, [3, 20])
    assert out.rejected == {}
    out = robust.get("median").aggregate(x[:4], range(4))
    np.testing.assert_array_equal(out.vector, [2.5, 15])


def test_trimmed_mean() -> None:
    """Yin et al. 2018: drop the f largest and f smallest per coordinate, average the rest."""
    x = np.array([[1, 10], [2, 20], [3, 30], [100, -5], [4, 40]], dtype=np.float32)
    np.testing.assert_array_equal(
        robust.get("trimmed_mean", f=1).aggregate(x, range(5)).vector, [3, 20]
    )
    np.testing.assert_array_equal(
        robust.get("trimmed_mean", f=0).aggregate(x, range(5)).vector, [22, 19]
    )


@pytest.mark.parametrize(("n", "f"), [(9, 2), (60, 20)])  # streaming and sorting paths
def test_trimmed_mean_does_not_overflow(n: int, f: int) -> None:
    top = np.finfo(np.float32).max
    x = np.full((n, 3), top, dtype=np.float32)
    x[:, 1] = -top
    x[:, 2] = np.linspace(-1, 1, n)
    out = robust.get("trimmed_mean", f=f).aggregate(x, range(n)).vector
    np.testing.assert_allclose(out[:2], [top, -top], rtol=1e-6)
    assert out[2] == pytest.approx(0.0, abs=1e-6)


def test_geomed_collinear_points_is_the_median() -> None:
    """In one dimension the geometric median is the median (Pillutla et al. 2022)."""
    out = robust.get("geomed", nu=1e-9, max_iter=500, tol=1e-12, init="mean").aggregate(
        col(0, 1, 2, 3, 100), range(5)
    )
    assert out.vector[0] == pytest.approx(2.0, abs=1e-3)


def test_geomed_triangle_with_wide_angle_is_the_vertex() -> None:
    """Fermat point: a vertex with an angle >= 120 degrees is the geometric median."""
    x = np.array([[0, 0], [10, 1], [-10, 1]], dtype=np.float32)
    out = robust.get("geomed", nu=1e-9, max_iter=2000, tol=0.0, init="mean").aggregate(x, range(3))
    np.testing.assert_allclose(out.vector, [0, 0], atol=1e-3)


def test_geomed_square_is_the_centre() -> None:
    x = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype=np.float32)
    out = robust.get("geomed").aggregate(x, range(4))
    np.testing.assert_allclose(out.vector, [1, 1], atol=1e-5)


def test_krum_scores_by_hand() -> None:
    """Blanchard et al. 2017 with n=5, f=1: n-f-2 = 2 neighbours.

    squared distances from 0,1,2,10,11: scores 0->1+4=5, 1->1+1=2, 2->1+4=5,
    10->1+64=65, 11->1+81=82, so Krum outputs 1.
    """
    x = col(0, 1, 2, 10, 11)
    out = robust.get("krum", f=1).aggregate(x, [10, 11, 12, 13, 14])
    assert out.vector[0] == 1.0
    assert out.accepted == (11,)
    assert dict(out.scores) == {10: 5.0, 11: 2.0, 12: 5.0, 13: 65.0, 14: 82.0}
    assert set(out.rejected) == {10, 12, 13, 14}
    assert "score 82" in out.rejected[14]


def test_krum_byzfl_variant_picks_differently() -> None:
    """With n-f-1 = 3 neighbours: scores 105, 83, 69, 146, 182 -> the point 2."""
    out = robust.get("krum", f=1, neighbours="n-f-1").aggregate(col(0, 1, 2, 10, 11), range(5))
    assert out.vector[0] == 2.0


def test_krum_with_the_fourth_power_of_karimireddy_et_al_code() -> None:
    """Points 0, 1, 5, 8, 11, n=5, f=1, two neighbours each.

    Squared distances: 1+25=26, 1+16=17, 9+16=25, 9+9=18, 9+36=45 -> the point 1.
    Fourth powers: 1+625=626, 1+256=257, 81+256=337, 81+81=162, 81+1296=1377 -> 8.
    """
    x = col(0, 1, 5, 8, 11)
    assert robust.get("krum", f=1).aggregate(x, range(5)).vector[0] == 1.0
    out = robust.get("krum", f=1, distance_power=4).aggregate(x, range(5))
    assert out.vector[0] == 8.0
    assert dict(out.scores) == {0: 626.0, 1: 257.0, 2: 337.0, 3: 162.0, 4: 1377.0}
    multi = robust.get("multikrum", f=1, m=2, distance_power=4).aggregate(x, range(5))
    assert multi.accepted == (1, 3)
    for bad in (3, 2.0, True, "4"):
        with pytest.raises(ConfigurationError, match="distance_power"):
            robust.get("krum", f=1, distance_power=bad)


def test_multikrum_by_hand() -> None:
    """Multi-Krum averages the n - f = 4 best scores: points 1, 0, 2, 10."""
    out = robust.get("multikrum", f=1).aggregate(col(0, 1, 2, 10, 11), range(5))
    assert out.vector[0] == pytest.approx(3.25)
    assert set(out.rejected) == {4}
    out = robust.get("multikrum", f=1, m=3).aggregate(col(0, 1, 2, 10, 11), range(5))
    assert out.vector[0] == pytest.approx(1.0)


def test_bulyan_by_hand() -> None:
    """El Mhamdi et al. 2018, n=7, f=1: θ=5 recursive Krum picks, then β=3 around the median.

    Points 0,1,2,3,4,5,100 (ids 0..6). Krum with n'-f-2 neighbours picks, in
    turn: 2 (score 10, tie with 3 -> smaller id), 3 (score 9), 1 (score 10,
    tie with 4 -> smaller id), 4 (score 1, tie with 5), 0 (no neighbours left
    to count; smallest id). S = {0,1,2,3,4}, median 2, the 3 values closest to
    it are 1, 2, 3: output 2; points 5 and 100 are rejected.
    """
    out = robust.get("bulyan", f=1).aggregate(col(0, 1, 2, 3, 4, 5, 100), range(7))
    assert out.vector[0] == pytest.approx(2.0)
    assert set(out.rejected) == {5, 6}


def test_bulyan_coordinatewise_stage() -> None:
    """Bulyan's second stage works per coordinate (β closest values to each coordinate's median)."""
    x = np.array(
        [[0, 9], [1, 0], [2, 1], [3, 2], [4, 3], [5, 4], [6, 5]], dtype=np.float32
    )  # f = 1: θ = 5, β = 3
    out = robust.get("bulyan", f=1).aggregate(x, range(7))
    assert out.accepted
    assert len(out.rejected) == 2
    kept = x[list(out.accepted)]
    for k in range(2):
        values = np.sort(kept[:, k])
        med = values[2]
        closest = sorted(values, key=lambda v: (abs(v - med), v))[:3]
        assert out.vector[k] == pytest.approx(np.mean(closest))


def test_cclip_by_hand() -> None:
    """Karimireddy et al. 2021: v1 = v0 + mean((x_i - v0) min(1, τ/|x_i - v0|)).

    From v0 = 0 with τ = 1: (0.5 - 0.5 + 1)/3 = 1/3; from 1/3: 1/3 + (1/6 - 5/6 + 1)/3 = 4/9.
    """
    x = col(0.5, -0.5, 10)
    rule = robust.get("cclip", tau=1.0)
    assert rule.aggregate(x, range(3)).vector[0] == pytest.approx(1 / 3)
    assert rule.aggregate(x, range(3)).vector[0] == pytest.approx(4 / 9)
    two_iters = robust.get("cclip", tau=1.0, iterations=2)
    assert two_iters.aggregate(x, range(3)).vector[0] == pytest.approx(4 / 9)


def test_mda_by_hand() -> None:
    """El Mhamdi et al. 2018: the 3-subset of {0,1,2,10} with the smallest diameter is {0,1,2}."""
    out = robust.get("mda", f=1).aggregate(col(0, 1, 2, 10), [7, 8, 9, 10])
    assert out.vector[0] == pytest.approx(1.0)
    assert set(out.rejected) == {10}
    assert "diameter 2" in out.rejected[10]


def test_nnm_by_hand() -> None:
    """Allouah et al. 2023: each point becomes the mean of its n - f = 3 nearest (itself too)."""
    out = robust.get_pre("nnm", f=1).transform(
        col(0, 1, 3, 10), (0, 1, 2, 3), context=AggregationContext()
    )
    np.testing.assert_allclose(out.vectors[:, 0], [4 / 3, 4 / 3, 4 / 3, 14 / 3], rtol=1e-6)


def test_arc_by_hand() -> None:
    """Allouah et al. 2024: k = floor(2 (1/5) 4) = 1 largest norm clipped to the next largest."""
    out = robust.get_pre("arc", f=1).transform(
        col(1, -2, 3, 4, -10), tuple(range(5)), context=AggregationContext()
    )
    np.testing.assert_allclose(out.vectors[:, 0], [1, -2, 3, 4, -4])


def test_clip_by_hand() -> None:
    x = np.array([[3, 4], [0.3, 0.4]], dtype=np.float32)
    out = robust.get_pre("clip", c=1.0).transform(x, (0, 1), context=AggregationContext())
    np.testing.assert_allclose(out.vectors, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)


def test_bucketing_groups_and_means() -> None:
    """Karimireddy et al. 2022: ceil(n/s) buckets of s inputs (the last one smaller), averaged."""
    x = col(0, 1, 2, 3, 4)
    out = robust.get_pre("bucketing", s=2).transform(
        x, tuple(range(5)), context=AggregationContext(seed=3)
    )
    assert sorted(len(g) for g in out.groups) == [1, 2, 2]
    assert sorted(i for g in out.groups for i in g) == [0, 1, 2, 3, 4]
    for row, group in zip(out.vectors[:, 0], out.groups, strict=True):
        assert row == pytest.approx(np.mean([x[i, 0] for i in group]))


def test_dnc_by_hand() -> None:
    """Shejwalkar & Houmansadr 2021: centred points (-1,0),(-3,0),(-2,1),(-2,-1),(8,0).

    The top singular direction is the x axis; outlier scores (x - 2)^2 = 1, 9,
    4, 4, 64, so with f = 1 the point (10, 0) goes and the rest average to 0.
    """
    x = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [10, 0]], dtype=np.float32)
    out = robust.get("dnc", f=1, sub_dim=2).aggregate(x, range(5), context=AggregationContext())
    np.testing.assert_allclose(out.vector, [0, 0], atol=1e-7)
    assert set(out.rejected) == {4}
    assert np.argmax([out.scores[i] for i in range(5)]) == 4


def test_signguard_by_hand() -> None:
    """Xu et al. 2022: a norm outlier (ratio > 3) and a sign outlier (all negative) are rejected;
    the rest, clipped to the median norm, are averaged."""
    honest = np.array([[1, 1, 1, 1], [2, 0.5, 1, 1], [1, 2, 0.5, 1], [1, 1, 2, 0.5]])
    honest = honest / np.linalg.norm(honest, axis=1, keepdims=True)  # all of norm 1
    big = np.array([[50.0, 50.0, 50.0, 50.0]])
    negative = -honest[:1]
    x = np.vstack([honest, big, negative]).astype(np.float32)
    rule = robust.get("signguard", selection_fraction=1.0)
    out = rule.aggregate(x, range(6), context=AggregationContext(seed=0))
    assert set(out.rejected) == {4, 5}
    assert "norm ratio" in out.rejected[4]
    assert "sign" in out.rejected[5]
    np.testing.assert_allclose(out.vector, honest.mean(axis=0), rtol=1e-6)


def test_fltrust_by_hand() -> None:
    """Cao et al. 2021: TS = ReLU(cos), inputs rescaled to ||g0||, trust-weighted average."""
    x = np.array([[2, 0], [0, 3], [1, 1], [-1, 0]], dtype=np.float32)
    ctx = AggregationContext(reference=np.array([1, 0], dtype=np.float32))
    out = robust.get("fltrust").aggregate(x, range(4), context=ctx)
    s = 1 / math.sqrt(2)
    expected = (np.array([1.0, 0.0]) + s * np.array([s, s])) / (1 + s)
    np.testing.assert_allclose(out.vector, expected, rtol=1e-6)
    assert set(out.rejected) == {1, 3}
    assert out.scores[0] == pytest.approx(1.0)
    assert out.scores[2] == pytest.approx(s)


def test_flame_by_hand() -> None:
    """Nguyen et al. 2022: the majority cosine cluster (4 of 6), clipped to the median norm."""
    honest = np.array([[1, 0.1], [2, 0.1], [1, -0.1], [3, 0]])
    attackers = np.array([[0, 5], [0.1, 5]])
    x = np.vstack([honest, attackers]).astype(np.float32)
    out = robust.get("flame", noise_lambda=0.0).aggregate(x, range(6))
    assert set(out.rejected) == {4, 5}
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    s = np.median(norms)
    clipped = honest * np.minimum(1, s / norms[:4])[:, None]
    np.testing.assert_allclose(out.vector, clipped.mean(axis=0), rtol=1e-6)


def test_flame_noise_has_the_papers_scale() -> None:
    """σ = λ S with S the median norm: the difference to the noiseless output has that std."""
    rng = np.random.default_rng(0)
    x = (rng.normal(size=20_000) + 0.1 * rng.normal(size=(7, 20_000))).astype(np.float32)
    ctx = AggregationContext(seed=5)
    plain = robust.get("flame", noise_lambda=0.0).aggregate(x, range(7), context=ctx).vector
    noisy = robust.get("flame", noise_lambda=0.01).aggregate(x, range(7), context=ctx).vector
    s = float(np.median(np.linalg.norm(x.astype(np.float64), axis=1)))
    diff = noisy.astype(np.float64) - plain
    assert abs(diff.mean()) < 4 * 0.01 * s / math.sqrt(x.shape[1])
    assert diff.std() == pytest.approx(0.01 * s, rel=0.03)


def test_foolsgold_by_hand() -> None:
    """Fung et al. 2020: two identical sybils get weight 0; orthogonal honest clients weight 1."""
    x = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    out = robust.get("foolsgold").aggregate(x, [5, 6, 7, 8])
    np.testing.assert_allclose(out.vector, [0, 0.5, 0.5])
    assert set(out.rejected) == {5, 6}
    assert dict(out.scores) == {5: 0.0, 6: 0.0, 7: 1.0, 8: 1.0}


def test_foolsgold_uses_history() -> None:
    """Round 2 updates are orthogonal, but the histories (sums) of clients 0 and 1 coincide."""
    rule = robust.get("foolsgold")
    rule.aggregate(np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32), [0, 1, 2])
    out = rule.aggregate(np.array([[5, 0, 0], [5, 0, 0], [0, 0, 1]], dtype=np.float32), [0, 1, 2])
    assert set(out.rejected) == {0, 1}
    state = rule.state_dict()
    np.testing.assert_array_equal(state["ids"], [0, 1, 2])
    np.testing.assert_array_equal(state["history"], [[6, 0, 0], [6, 0, 0], [0, 1, 1]])


def test_foolsgold_logit_weights() -> None:
    """Partial similarity: α = 1 - max cs, rescaled, then κ (ln(α/(1-α)) + 0.5) clipped."""
    x = np.array([[1, 0], [math.cos(0.5), math.sin(0.5)], [0, 1]], dtype=np.float32)
    out = robust.get("foolsgold").aggregate(x, range(3))
    cs = np.array(
        [
            [0, math.cos(0.5), 0],
            [math.cos(0.5), 0, math.cos(1.07079633)],
            [0, math.cos(1.07079633), 0],
        ]
    )
    v = cs.max(axis=1)
    pardoned = cs * np.where(v[:, None] < v[None, :], v[:, None] / v[None, :], 1.0)
    alpha = 1 - pardoned.max(axis=1)
    alpha = alpha / alpha.max()
    alpha[alpha == 1] = 0.99
    alpha = np.clip(np.log(alpha / (1 - alpha)) + 0.5, 0, 1)
    np.testing.assert_allclose([out.scores[i] for i in range(3)], alpha, rtol=1e-5)
