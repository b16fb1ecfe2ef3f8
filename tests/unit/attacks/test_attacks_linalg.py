"""The shared statistics helpers agree with numpy's definitions."""

from __future__ import annotations

import numpy as np
import pytest

from secfl.attacks._linalg import mean_std


@pytest.mark.parametrize("shape", [(1, 5), (2, 7), (20, 1000), (3, 1), (5, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_std_equals_numpy_float64(shape: tuple[int, int], dtype: type) -> None:
    x = (np.random.default_rng(sum(shape)).standard_normal(shape) * 1e3).astype(dtype)
    mu, sd = mean_std(x)
    a = x.astype(np.float64)
    assert mu.dtype == sd.dtype == np.float64
    np.testing.assert_array_equal(mu, a.mean(axis=0))
    expected = a.std(axis=0, ddof=1) if shape[0] > 1 else np.zeros(shape[1])
    np.testing.assert_allclose(sd, expected, rtol=1e-12, atol=0)


def test_mean_std_keeps_non_finite_values_visible() -> None:
    x = np.array([[1.0, np.nan], [3.0, 1.0]], dtype=np.float32)
    mu, sd = mean_std(x)
    assert mu[0] == 2.0
    assert np.isnan(mu[1])
    assert np.isnan(sd[1])
    assert sd[0] == pytest.approx(np.sqrt(2.0))
