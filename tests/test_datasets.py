import gzip
import os

import numpy as np
import pytest

import fiftyone as fo

from fiftyone_dsco.data.builtin import FASHION_MNIST_CLASSES, load_builtin
from fiftyone_dsco.errors import DatasetUnavailableError, OptionError


def test_digits_loads_with_splits_and_labels(digits):
    assert len(digits) == 1797
    assert digits.persistent
    assert digits.count_sample_tags() == {"train": 1437, "test": 360}
    assert digits.get_field("ground_truth").document_type is fo.Classification
    assert digits.classes["ground_truth"] == [str(d) for d in range(10)]
    counts = digits.match_tags("test").count_values("ground_truth.label")
    assert set(counts) == set(map(str, range(10))) and min(counts.values()) >= 35
    assert all(os.path.isfile(p) for p in digits.take(20, seed=0).values("filepath"))


def test_loading_twice_duplicates_nothing(digits):
    ids = sorted(digits.values("id"))
    folder = digits.info["dsco_media_dir"]
    n_files = len(os.listdir(folder))
    again = load_builtin("digits")
    assert again.name == digits.name
    assert sorted(again.values("id")) == ids
    assert len(os.listdir(folder)) == n_files == 1797


def test_unknown_dataset_and_bad_limits():
    with pytest.raises(OptionError, match="choose one of"):
        load_builtin("imagenet")
    with pytest.raises(OptionError, match=">= 1"):
        load_builtin("digits", train_per_class=0)


def test_fashion_mnist_missing_files_names_apt_command(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_builtin("fashion-mnist", source_dir=str(tmp_path), dataset_name="fm-missing")
    assert not fo.dataset_exists("fm-missing")


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reader_on_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    ds = load_builtin("fashion-mnist", source_dir=str(tmp_path), train_per_class=3,
                      test_per_class=1, dataset_name="fm-tiny")
    try:
        assert ds.count_sample_tags() == {"train": 30, "test": 10}
        assert ds.distinct("ground_truth.label") == sorted(FASHION_MNIST_CLASSES)
        assert ds.first().metadata is None
        from PIL import Image
        assert Image.open(ds.first().filepath).size == (28, 28)
    finally:
        ds.delete()


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package():
    ds = load_builtin("fashion-mnist", train_per_class=2, test_per_class=1)
    try:
        assert ds.name == "dsco-fashion-mnist-2x1"
        assert ds.count_sample_tags() == {"train": 20, "test": 10}
    finally:
        ds.delete()
