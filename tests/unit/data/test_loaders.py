"""Dataset loaders: built-in digits, MNIST-like .npz and IDX, UCI tables, clear errors."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from secfl.data import Dataset, load_dataset
from secfl.data import images as images_module
from secfl.data.images import read_idx
from secfl.errors import ConfigurationError, DataNotFoundError
from tests.helpers import shared_data_dir


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def fake_mnist(n_train: int = 30, n_test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def test_digits_is_built_in_and_deterministic() -> None:
    a = load_dataset("digits", seed=3)
    b = load_dataset("digits", seed=3)
    assert a.x_train.shape[1:] == (1, 8, 8)
    assert a.x_train.dtype == np.float32
    assert a.x_train.shape[0] + a.x_test.shape[0] == 1797
    assert a.x_train.min() >= 0.0
    assert a.x_train.max() <= 1.0
    assert np.array_equal(a.y_test, b.y_test)
    # stratified: every class is in the test split in about the same proportion
    assert np.bincount(a.y_test, minlength=10).min() >= 30


def test_npz_loader_reads_scales_and_validates(tmp_path: Path) -> None:
    arrays = fake_mnist()
    np.savez(tmp_path / "mnist.npz", **arrays)
    ds = load_dataset("mnist", data_dir=tmp_path)
    assert ds.x_train.shape == (30, 1, 28, 28)
    assert np.allclose(ds.x_train[0, 0], arrays["x_train"][0] / 255.0)
    assert np.array_equal(ds.y_test, arrays["y_test"])
    assert not ds.verified  # not one of the known copies

    bad = dict(arrays)
    bad["x_train"] = np.zeros((30, 27, 28), dtype=np.uint8)
    np.savez(tmp_path / "fashion_mnist.npz", **bad)
    with pytest.raises(ConfigurationError, match="unexpected shapes"):
        load_dataset("fashion_mnist", data_dir=tmp_path)
    (tmp_path / "fashion_mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_dataset("fashion_mnist", data_dir=tmp_path)


def test_missing_dataset_error_names_where_it_looked(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SECFL_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "nowhere" / "mnist.npz") in message
    assert "SECFL_DATA_DIR" in message
    with pytest.raises(DataNotFoundError, match="no data directory given"):
        load_dataset("bank_marketing")


def test_fashion_mnist_from_debian_idx_files(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    arrays = fake_mnist(seed=4)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", arrays["x_train"])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays["y_train"])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", arrays["x_test"])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["y_test"])
    monkeypatch.setattr(images_module, "DEBIAN_FASHION_MNIST", tmp_path)
    monkeypatch.delenv("SECFL_DATA_DIR", raising=False)
    ds = load_dataset("fashion_mnist")
    assert "Debian" in ds.source
    assert np.array_equal(ds.y_train, arrays["y_train"])
    assert np.allclose(ds.x_test[:, 0] * 255.0, arrays["x_test"])
    with pytest.raises(DataNotFoundError):
        load_dataset("mnist")  # the Debian fallback is for Fashion-MNIST only


def test_idx_reader_rejects_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 3) + b"\0" * 12)
    with pytest.raises(ConfigurationError, match="unsigned-byte"):
        read_idx(path)
    with gzip.open(path, "wb") as fh:
        fh.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5) + b"\0\0")
    with pytest.raises(ConfigurationError, match="payload"):
        read_idx(path)


def test_real_mnist_and_fashion_mnist() -> None:
    data = shared_data_dir()
    mnist = load_dataset("mnist", data_dir=data)
    fashion = load_dataset("fashion_mnist", data_dir=data)
    assert mnist.verified
    assert fashion.verified
    assert mnist.x_train.shape == (60000, 1, 28, 28)
    assert mnist.x_test.shape == (10000, 1, 28, 28)
    # Published statistics: MNIST train pixel mean 33.318, Fashion-MNIST 72.94, 6000 per class.
    assert mnist.x_train.mean() * 255 == pytest.approx(33.318, abs=0.01)
    assert fashion.x_train.mean() * 255 == pytest.approx(72.94, abs=0.01)
    assert np.all(np.bincount(fashion.y_train) == 6000)
    # The published constants used by data.normalize = "standard" are these datasets'
    # training statistics (to their printed precision): standardised, mean 0 and std 1.
    for ds in (mnist, fashion):
        z = ds.standardized().x_train
        assert z.dtype == np.float32
        assert float(z.mean()) == pytest.approx(0.0, abs=2e-3)
        assert float(z.std()) == pytest.approx(1.0, abs=2e-3)


def test_standardisation_uses_published_constants_only() -> None:
    arrays = fake_mnist()
    ds = load_dataset("digits")
    with pytest.raises(ConfigurationError, match="no published pixel statistics"):
        ds.standardized()
    from secfl.data import PIXEL_STATS

    raw = Dataset(
        name="mnist",
        task="classification",
        x_train=(arrays["x_train"] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=(arrays["x_test"] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28),
        y_test=arrays["y_test"].astype(np.int64),
        input_shape=(1, 28, 28),
        num_classes=10,
        source="test",
    )
    mean, std = PIXEL_STATS["mnist"]
    z = raw.standardized()
    np.testing.assert_allclose(z.x_test, (raw.x_test - mean) / std, rtol=1e-6, atol=1e-6)
    assert "standardised" in z.notes


@pytest.mark.parametrize(
    ("name", "rows", "positives"),
    [("bank_marketing", 45211, 5289), ("adult", 48842, 11687), ("german_credit", 1000, 300)],
)
def test_real_tabular_sets(name: str, rows: int, positives: int) -> None:
    ds: Dataset = load_dataset(name, data_dir=shared_data_dir(), seed=0)
    assert ds.x_train.shape[0] + ds.x_test.shape[0] == rows
    assert int(ds.y_train.sum() + ds.y_test.sum()) == positives
    assert ds.verified
    assert np.all(np.isfinite(ds.x_train))
    # numeric columns are standardised on the training split
    numeric = [i for i, f in enumerate(ds.feature_names) if "=" not in f]
    assert np.allclose(ds.x_train[:, numeric].mean(axis=0), 0, atol=1e-4)
    # one-hot blocks: every categorical column contributes exactly one 1 per row
    onehot = [i for i, f in enumerate(ds.feature_names) if "=" in f]
    columns = {ds.feature_names[i].split("=")[0] for i in onehot}
    assert np.allclose(ds.x_train[:, onehot].sum(axis=1), len(columns))


def test_bank_marketing_drops_the_leaking_duration_column_and_keeps_job_keys() -> None:
    ds = load_dataset("bank_marketing", data_dir=shared_data_dir())
    assert "duration" not in ds.feature_names
    assert len(set(ds.keys["job"].tolist())) == 12


def test_regression_target_and_unknown_target() -> None:
    data = shared_data_dir()
    ds = load_dataset("adult", data_dir=data, target="hours-per-week")
    assert ds.task == "regression"
    assert ds.num_classes == 1
    assert not any(f.startswith("hours-per-week") for f in ds.feature_names)
    assert abs(float(ds.y_train.mean())) < 1e-4
    with pytest.raises(ConfigurationError, match="not a column"):
        load_dataset("adult", data_dir=data, target="salary")
    with pytest.raises(ConfigurationError, match="only for tabular"):
        load_dataset("digits", target="label")


def test_engine_standardises_when_asked(tmp_path: Path) -> None:
    from secfl.federation import run

    np.savez(tmp_path / "mnist.npz", **fake_mnist(n_train=40, n_test=10))
    base = {
        "run": {"rounds": 1, "threads": 1, "name": "norm"},
        "data": {"dataset": "mnist", "num_clients": 2, "data_dir": str(tmp_path)},
        "model": {"kind": "logreg"},
        "client": {"batch_size": 8, "lr": 0.1},
        "audit": {"enabled": False},
    }
    plain = run(base, run_dir=tmp_path / "plain")
    base["data"] = {**base["data"], "normalize": "standard"}
    standard = run(base, run_dir=tmp_path / "standard")
    # Same seed, same batches: only the inputs' scale differs, so the models do.
    assert not np.allclose(plain.weights, standard.weights)
    assert 'normalize = "standard"' in (tmp_path / "standard" / "config.toml").read_text()
