"""Tests of lvae.datasets: known counts and statistics of the staged data, parsers on hand-written files."""

import gzip
import hashlib
import io
import struct
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from lvae.datasets import (
    DATASET_NAMES,
    ImageDataset,
    binarize,
    load_dataset,
    omniglot_drawer,
    parse_amat,
    parse_norb_matrix,
    read_idx,
    read_norb_matrix,
)

# SOURCES.md: label counts of digits 0-9
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
NORB_BYTE, NORB_INT = 0x1E3D4C55, 0x1E3D4C54


def _is_binary(x: np.ndarray) -> bool:
    return bool(((x == 0.0) | (x == 1.0)).all())


@pytest.fixture(scope="session")
def mnist(shared_datasets: Path) -> ImageDataset:
    return load_dataset("mnist", shared_datasets, download=False)


@pytest.fixture(scope="session")
def binarized_mnist(shared_datasets: Path) -> ImageDataset:
    return load_dataset("binarized-mnist", shared_datasets, download=False)


@pytest.fixture(scope="session")
def omniglot_loads(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory):
    """First (builds the .npz cache) and second (reads it) Omniglot load of the default drawer split, with their
    durations in seconds: the only read of the zips in the session."""
    cache = tmp_path_factory.mktemp("omniglot-cache")
    start = time.perf_counter()
    first = load_dataset("omniglot", shared_datasets, download=False, cache_dir=cache)
    middle = time.perf_counter()
    second = load_dataset("omniglot", shared_datasets, download=False, cache_dir=cache, omniglot_split="drawer")
    end = time.perf_counter()
    return first, second, middle - start, end - middle, cache


@pytest.fixture(scope="session")
def omniglot_alphabet(shared_datasets: Path, omniglot_loads):
    """The alphabet split, cut from the cache the drawer loads built, with its load time in seconds."""
    start = time.perf_counter()
    ds = load_dataset(
        "omniglot", shared_datasets, download=False, cache_dir=omniglot_loads[4], omniglot_split="alphabet"
    )
    return ds, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------------------


def test_mnist_counts_mean_and_labels(mnist: ImageDataset) -> None:
    assert mnist.train_x.shape == (60000, 784) and mnist.test_x.shape == (10000, 784)
    assert mnist.train_x.mean(dtype=np.float64) == pytest.approx(0.1307, abs=5e-5)
    assert mnist.train_x.min() == 0.0 and mnist.train_x.max() == 1.0
    assert np.bincount(mnist.train_y).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test_y).tolist() == MNIST_TEST_COUNTS
    assert (mnist.image_shape, mnist.likelihood, mnist.dynamic_binarize) == ((28, 28), "bernoulli", True)


def test_mnist_test_set_is_binarised_once_with_the_seed(mnist: ImageDataset, shared_datasets: Path) -> None:
    intensity = read_idx(shared_datasets / "mnist/t10k-images-idx3-ubyte.gz").reshape(10000, -1) / 255.0
    intensity = intensity.astype(np.float32)
    assert _is_binary(mnist.test_x)
    np.testing.assert_array_equal(mnist.test_x, binarize(intensity, np.random.default_rng(0)))
    assert not np.array_equal(mnist.test_x, binarize(intensity, np.random.default_rng(1)))
    # E[binarised] = mean intensity 0.1325 (SOURCES.md); SE of the mean over 7.84M pixels is ~1e-4
    assert mnist.test_x.mean(dtype=np.float64) == pytest.approx(0.1325, abs=1e-3)
    assert not mnist.test_x[intensity == 0].any() and mnist.test_x[intensity == 1].all()


def test_mnist_limit_keeps_the_first_examples(mnist: ImageDataset, shared_datasets: Path) -> None:
    small = load_dataset("mnist", shared_datasets, limit=100, download=False)
    assert small.train_x.shape == (100, 784) and small.test_y.shape == (100,)
    np.testing.assert_array_equal(small.train_x, mnist.train_x[:100])
    np.testing.assert_array_equal(small.test_x, mnist.test_x[:100])  # same seed: same test binarisation


def test_binarize_is_bernoulli_of_the_intensity() -> None:
    x = np.full((1000, 100), 0.3, np.float32)
    x[:, :10] = 0.0
    x[:, 10:20] = 1.0
    b = binarize(x, np.random.default_rng(0))
    assert b.dtype == np.float32 and set(np.unique(b)) == {0.0, 1.0}
    assert not b[:, :10].any() and b[:, 10:20].all()
    assert b[:, 20:].mean() == pytest.approx(0.3, abs=0.005)  # SE ~ 0.0017


def test_idx_parser_round_trips_raw_and_gzipped(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = struct.pack(">BBBBIII", 0, 0, 0x08, 3, 2, 3, 4) + images.tobytes()
    (tmp_path / "x-idx3-ubyte").write_bytes(raw)
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz"), images)
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="IDX size mismatch"):
        read_idx(tmp_path / "short")


# ---------------------------------------------------------------------------------------------------------
# Binarized MNIST
# ---------------------------------------------------------------------------------------------------------


def test_binarized_mnist_split_sizes_and_values(binarized_mnist: ImageDataset) -> None:
    ds = binarized_mnist
    assert ds.train_x.shape == (60000, 784) and ds.test_x.shape == (10000, 784)
    assert _is_binary(ds.train_x) and _is_binary(ds.test_x) and ds.train_x.max() == 1.0
    # SOURCES.md means: train 0.13056 (50k), valid 0.13113 (10k), test 0.13251
    assert ds.train_x[:50000].mean(dtype=np.float64) == pytest.approx(0.13056, abs=1e-5)
    assert ds.train_x[50000:].mean(dtype=np.float64) == pytest.approx(0.13113, abs=1e-5)
    assert ds.test_x.mean(dtype=np.float64) == pytest.approx(0.13251, abs=1e-5)
    assert (ds.likelihood, ds.dynamic_binarize) == ("bernoulli", False)
    assert (ds.train_y == -1).all() and (ds.test_y == -1).all()  # the split carries no labels


def test_binarized_mnist_amat_text_equals_mat(binarized_mnist: ImageDataset, shared_datasets: Path, tmp_path):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    for split in ("train.mat", "valid.mat", "test.amat.gz"):  # the test split only as gzipped .amat text
        name = f"binarized_mnist_{split}"
        (folder / name).symlink_to(shared_datasets / "binarized_mnist" / name)
    ds = load_dataset("binarized-mnist", tmp_path, download=False)
    assert np.array_equal(ds.test_x, binarized_mnist.test_x)
    assert np.array_equal(ds.train_x, binarized_mnist.train_x)


def test_parse_amat() -> None:
    x = parse_amat(b"0 1 1\n1 0 0\n", dim=3)
    np.testing.assert_array_equal(x, [[0, 1, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="not a binary .amat"):
        parse_amat(b"0 1\n1 0 0\n", dim=3)
    with pytest.raises(ValueError, match="not a binary .amat"):
        parse_amat(b"0 2 1\n", dim=3)


# ---------------------------------------------------------------------------------------------------------
# OMNIGLOT
# ---------------------------------------------------------------------------------------------------------


def _omniglot_cache(cache: Path) -> dict[str, np.ndarray]:
    (path,) = cache.iterdir()
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_omniglot_drawer_split_counts_values_and_labels(omniglot_loads) -> None:
    ds = omniglot_loads[0]
    assert ds.train_x.shape == (24345, 784) and ds.test_x.shape == (8115, 784)
    assert ds.train_x.min() == 0.0 and ds.train_x.max() == 1.0
    assert _is_binary(ds.test_x)
    # strokes are 1 on a 0 background: the border is blank and ink covers ~8% of the image
    assert ds.train_x.reshape(-1, 28, 28)[:, 0, :].mean() < 0.01
    assert 0.05 < ds.train_x.mean() < 0.12
    # labels are alphabet indices over all 50 alphabets, every one in both sets: each character has 15 train
    # drawers and 5 test drawers, so each alphabet has exactly 3x as many train images as test images
    assert np.unique(ds.train_y).tolist() == list(range(50))
    assert np.unique(ds.test_y).tolist() == list(range(50))
    train_counts, test_counts = np.bincount(ds.train_y), np.bincount(ds.test_y)
    assert (train_counts == 3 * test_counts).all() and (test_counts % 5 == 0).all()
    assert test_counts[:30].sum() == 19280 // 4 and test_counts[30:].sum() == 13180 // 4
    assert (ds.likelihood, ds.dynamic_binarize, ds.image_shape) == ("bernoulli", True, (28, 28))


def test_omniglot_drawer_split_is_drawers_1_to_15_vs_16_to_20(omniglot_loads) -> None:
    ds, cache = omniglot_loads[0], omniglot_loads[4]
    cached = _omniglot_cache(cache)
    drawers = np.concatenate([cached["background_drawers"], cached["evaluation_drawers"]])
    images = np.concatenate([cached["background_images"], cached["evaluation_images"]]).reshape(-1, 784)
    assert len(cached["background_drawers"]) == 19280 and len(cached["evaluation_drawers"]) == 13180
    assert np.bincount(drawers).tolist() == [0] + [1623] * 20  # 1,623 characters, one image per drawer
    np.testing.assert_array_equal(ds.train_x, images[drawers <= 15] / np.float32(255))
    test_intensity = images[drawers >= 16] / np.float32(255)
    np.testing.assert_array_equal(ds.test_x, binarize(test_intensity, np.random.default_rng(0)))


def test_omniglot_alphabet_split_counts_and_labels(omniglot_alphabet, omniglot_loads) -> None:
    ds, seconds = omniglot_alphabet
    assert ds.train_x.shape == (19280, 784) and ds.test_x.shape == (13180, 784)
    # 30 background alphabets (0-29) train, 20 evaluation ones (30-49) test, 20 drawers per character
    assert np.unique(ds.train_y).tolist() == list(range(30))
    assert np.unique(ds.test_y).tolist() == list(range(30, 50))
    assert (np.bincount(ds.train_y) % 20 == 0).all() and (np.bincount(ds.test_y)[30:] % 20 == 0).all()
    cached = _omniglot_cache(omniglot_loads[4])  # cut from the drawer split's cache, not a second zip read
    np.testing.assert_array_equal(ds.train_x, cached["background_images"].reshape(-1, 784) / np.float32(255))
    assert seconds < omniglot_loads[2] / 5, (omniglot_loads[2], seconds)


def test_omniglot_second_load_reads_the_cache(omniglot_loads) -> None:
    first, second, first_s, second_s, cache = omniglot_loads
    assert np.array_equal(first.train_x, second.train_x)
    assert np.array_equal(first.test_x, second.test_x)
    assert np.array_equal(first.test_y, second.test_y)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].startswith("omniglot-") and files[0].endswith(".npz")  # no .part left
    assert sorted(_omniglot_cache(cache)) == [
        f"{s}_{f}" for s in ("background", "evaluation") for f in ("alphabets", "drawers", "images")
    ]
    assert second_s < first_s / 5, (first_s, second_s)


def test_omniglot_resize_matches_pil_on_one_png(omniglot_loads, shared_datasets: Path) -> None:
    import zipfile

    with zipfile.ZipFile(shared_datasets / "omniglot/images_background.zip") as zf:
        first_png = sorted(n for n in zf.namelist() if n.endswith(".png"))[0]
        img = Image.open(io.BytesIO(zf.read(first_png))).convert("L")
    assert first_png.endswith("_01.png")  # drawer 1: the first training image of the drawer split
    expected = 1.0 - np.asarray(img.resize((28, 28), Image.Resampling.LANCZOS), np.float32) / 255.0
    np.testing.assert_allclose(omniglot_loads[0].train_x[0].reshape(28, 28), expected, atol=1e-6)


# Tiny Omniglot zips: 28x28 PNGs (no resize) whose k-th image has exactly k ink pixels, so row sums name images.
# (zip, alphabet, character, image number, drawers); alphabets 0 Alpha, 1 Beta (background), 2 Gamma (evaluation)
TINY_OMNIGLOT = [
    ("images_background", "Alpha", "character01", "0001", list(range(1, 21))),  # images 1-20
    ("images_background", "Beta", "character01", "0002", [3, 15, 16, 20]),  # images 21-24
    ("images_evaluation", "Gamma", "character01", "0100", [1, 16]),  # images 25, 26
]


def _write_tiny_omniglot(folder: Path, entries=TINY_OMNIGLOT) -> None:
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    k, files = 0, {}
    for stem, alphabet, character, number, drawers in entries:
        for drawer in drawers:
            k += 1
            image = np.full(784, 255, np.uint8)
            image[:k] = 0  # k black (ink) pixels
            buf = io.BytesIO()
            Image.fromarray(image.reshape(28, 28)).save(buf, "PNG")
            name = f"{stem}/{alphabet}/{character}/{number}_{drawer:02d}.png"
            files.setdefault(stem, []).append((name, buf.getvalue()))
    for stem in ("images_background", "images_evaluation"):
        with zipfile.ZipFile(folder / f"{stem}.zip", "w") as zf:
            for name, data in reversed(files.get(stem, [])):  # written unsorted: the loader sorts
                zf.writestr(name, data)


def test_omniglot_splits_tiny_zips_exactly(tmp_path: Path) -> None:
    _write_tiny_omniglot(tmp_path / "omniglot")
    cache = tmp_path / "cache"

    def ink(x: np.ndarray) -> list[int]:
        return x.sum(axis=1).astype(int).tolist()

    drawer = load_dataset("omniglot", tmp_path, download=False, cache_dir=cache)
    assert ink(drawer.train_x) == [*range(1, 16), 21, 22, 25]  # drawers 1-15 of every alphabet
    assert drawer.train_y.tolist() == [0] * 15 + [1, 1, 2]
    assert ink(drawer.test_x) == [16, 17, 18, 19, 20, 23, 24, 26]  # drawers 16-20
    assert drawer.test_y.tolist() == [0] * 5 + [1, 1, 2]
    assert _is_binary(drawer.train_x) and _is_binary(drawer.test_x)

    (cache_file,) = cache.iterdir()
    built = cache_file.stat().st_mtime_ns
    alphabet = load_dataset("omniglot", tmp_path, download=False, cache_dir=cache, omniglot_split="alphabet")
    assert ink(alphabet.train_x) == list(range(1, 25)) and alphabet.train_y.tolist() == [0] * 20 + [1] * 4
    assert ink(alphabet.test_x) == [25, 26] and alphabet.test_y.tolist() == [2, 2]  # after the 2 background ones
    again = load_dataset("omniglot", tmp_path, download=False, cache_dir=cache)
    np.testing.assert_array_equal(again.train_x, drawer.train_x)
    np.testing.assert_array_equal(again.test_y, drawer.test_y)
    assert list(cache.iterdir()) == [cache_file] and cache_file.stat().st_mtime_ns == built  # one cache, reused
    with np.load(cache_file) as npz:
        assert npz["background_drawers"].tolist() == [*range(1, 21), 3, 15, 16, 20]
        assert npz["evaluation_drawers"].tolist() == [1, 16]
        assert npz["evaluation_alphabets"].tolist() == [0, 0]  # numbered within its zip; offset when split


def test_omniglot_cache_of_another_layout_is_rebuilt(tmp_path: Path) -> None:
    _write_tiny_omniglot(tmp_path / "omniglot")
    cache = tmp_path / "cache"
    expected = load_dataset("omniglot", tmp_path, download=False, cache_dir=cache)
    (cache_file,) = cache.iterdir()
    zeros = np.zeros((3, 28, 28), np.uint8)  # the version-1 layout: a fixed split and no drawers
    np.savez(cache_file, train=zeros, train_y=np.zeros(3, np.int64), test=zeros, test_y=np.zeros(3, np.int64))
    ds = load_dataset("omniglot", tmp_path, download=False, cache_dir=cache)
    np.testing.assert_array_equal(ds.train_x, expected.train_x)
    with np.load(cache_file) as npz:
        assert "background_drawers" in npz.files


def test_omniglot_png_without_a_drawer_is_rejected(tmp_path: Path) -> None:
    _write_tiny_omniglot(tmp_path / "omniglot", [("images_background", "Alpha", "character01", "0001", [21])])
    with pytest.raises(ValueError, match="0001_21.png.*drawer 01-20"):
        load_dataset("omniglot", tmp_path, download=False, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    assert omniglot_drawer("images_evaluation/Tengwar/character05/1234_07.png") == 7
    for name in ("a/b/c/0001.png", "a/b/c/0001_xx.png", "a/b/c/0001_00.png"):
        with pytest.raises(ValueError, match="drawer"):
            omniglot_drawer(name)


@pytest.mark.parametrize("name", ["omniglot", "mnist"])
def test_unknown_omniglot_split_is_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="omniglot_split 'iwae'; valid: drawer, alphabet"):
        load_dataset(name, tmp_path, download=False, omniglot_split="iwae")


def test_omniglot_prefers_iwae_chardata_for_the_drawer_split(tmp_path: Path) -> None:
    folder = tmp_path / "omniglot"
    _write_tiny_omniglot(folder)
    rng = np.random.default_rng(0)
    train_img, test_img = rng.random((5, 28, 28)), rng.random((3, 28, 28))
    train_img[:, 0, :] = 1.0  # a top bar: orientation must survive the MATLAB column-major layout
    one_hot = np.eye(50)[:, [0, 1, 2, 3, 4]]
    scipy.io.savemat(
        folder / "chardata.mat",
        {  # MATLAB's data(:, n) = img(:) is the column-major flattening of each image
            "data": np.stack([im.flatten(order="F") for im in train_img], axis=1),
            "target": one_hot,
            "testdata": np.stack([im.flatten(order="F") for im in test_img], axis=1),
            "testtarget": np.eye(50)[:, [7, 7, 9]],
        },
    )
    ds = load_dataset("omniglot", tmp_path, download=False, cache_dir=tmp_path / "cache")
    assert ds.train_x.shape == (5, 784) and ds.test_x.shape == (3, 784)
    np.testing.assert_allclose(ds.train_x.reshape(-1, 28, 28), train_img, rtol=1e-6)
    assert ds.train_y.tolist() == [0, 1, 2, 3, 4] and ds.test_y.tolist() == [7, 7, 9]
    np.testing.assert_array_equal(
        ds.test_x, binarize(test_img.reshape(3, -1).astype(np.float32), np.random.default_rng(0))
    )
    assert not (tmp_path / "cache").exists()  # the zips were not read
    # chardata cannot give the alphabet split: that one comes from the zips
    alphabet = load_dataset(
        "omniglot", tmp_path, download=False, cache_dir=tmp_path / "cache", omniglot_split="alphabet"
    )
    assert alphabet.train_x.shape == (24, 784) and alphabet.test_y.tolist() == [2, 2]


# ---------------------------------------------------------------------------------------------------------
# smallNORB (not staged: tiny files in the exact binary format)
# ---------------------------------------------------------------------------------------------------------


def _norb_bytes(magic: int, array: np.ndarray) -> bytes:
    """smallNORB binary matrix: int32 magic, int32 ndim, max(3, ndim) int32 dims (unused = 1), data; LE."""
    dims = list(array.shape) + [1] * (3 - array.ndim)
    header = struct.pack(f"<Ii{len(dims)}i", magic, array.ndim, *dims)
    return header + array.astype(array.dtype.newbyteorder("<")).tobytes()


def test_norb_parser_round_trips_bytes_and_ints(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 2, 5, 4), dtype=np.uint8)
    labels = np.array([4, 0, 2], np.int32)
    raw_labels = _norb_bytes(NORB_INT, labels)
    assert len(raw_labels) == 20 + 12  # a 1-d matrix still stores 3 dims
    (tmp_path / "dat.mat").write_bytes(_norb_bytes(NORB_BYTE, images))
    (tmp_path / "cat.mat.gz").write_bytes(gzip.compress(raw_labels))
    np.testing.assert_array_equal(read_norb_matrix(tmp_path / "dat.mat"), images)
    np.testing.assert_array_equal(read_norb_matrix(tmp_path / "cat.mat.gz"), labels)
    assert read_norb_matrix(tmp_path / "cat.mat.gz").dtype == np.int32
    with pytest.raises(ValueError, match="magic"):
        parse_norb_matrix(struct.pack("<Ii3i", 0x12345678, 1, 3, 1, 1) + labels.tobytes())
    with pytest.raises(ValueError, match="size mismatch"):
        parse_norb_matrix(raw_labels[:-1])


def test_load_norb_from_tiny_files(tmp_path: Path) -> None:
    folder = tmp_path / "norb"
    folder.mkdir()
    rng = np.random.default_rng(1)
    splits = {"5x46789x9x18x6x2x96x96-training": 3, "5x01235x9x18x6x2x96x96-testing": 2}
    stereo = {}
    for i, (stem, n) in enumerate(splits.items()):
        dat = rng.integers(0, 256, (n, 2, 96, 96), dtype=np.uint8)
        dat[:, 1] = 7  # right camera: constant, must not be used
        cat = np.arange(n, dtype=np.int32) % 5
        stereo[stem] = (dat, cat)
        dat_bytes, cat_bytes = _norb_bytes(NORB_BYTE, dat), _norb_bytes(NORB_INT, cat)
        if i == 0:  # training files gzipped like the official downloads, testing files raw
            (folder / f"smallnorb-{stem}-dat.mat.gz").write_bytes(gzip.compress(dat_bytes))
            (folder / f"smallnorb-{stem}-cat.mat.gz").write_bytes(gzip.compress(cat_bytes))
        else:
            (folder / f"smallnorb-{stem}-dat.mat").write_bytes(dat_bytes)
            (folder / f"smallnorb-{stem}-cat.mat").write_bytes(cat_bytes)
    ds = load_dataset("norb", tmp_path, download=False, cache_dir=tmp_path / "cache")
    assert ds.train_x.shape == (3, 1024) and ds.test_x.shape == (2, 1024)
    assert (ds.likelihood, ds.dynamic_binarize, ds.image_shape) == ("gaussian", False, (32, 32))
    train_dat, train_cat = stereo["5x46789x9x18x6x2x96x96-training"]
    assert ds.train_y.tolist() == train_cat.tolist() and ds.test_y.tolist() == [0, 1]
    left = Image.fromarray(train_dat[0, 0]).resize((32, 32), Image.Resampling.BICUBIC)
    np.testing.assert_allclose(ds.train_x[0].reshape(32, 32), np.asarray(left) / 255.0, atol=1e-6)
    assert 0.0 <= ds.train_x.min() and ds.train_x.max() <= 1.0
    again = load_dataset("norb", tmp_path, download=False, cache_dir=tmp_path / "cache")  # from the cache
    np.testing.assert_array_equal(again.test_x, ds.test_x)


# ---------------------------------------------------------------------------------------------------------
# Errors and downloads
# ---------------------------------------------------------------------------------------------------------


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid names: mnist, binarized-mnist, omniglot, norb"):
        load_dataset("cifar10")
    assert DATASET_NAMES == ("mnist", "binarized-mnist", "omniglot", "norb")


@pytest.mark.parametrize("limit", [0, -5, 2.5, True])
def test_bad_limit_is_rejected(limit) -> None:
    with pytest.raises(ValueError, match="limit"):
        load_dataset("mnist", limit=limit)


@pytest.mark.parametrize(
    ("name", "folder", "expected_file"),
    [
        ("mnist", "mnist", "train-images-idx3-ubyte.gz"),
        ("binarized-mnist", "binarized_mnist", "binarized_mnist_train.amat"),
        ("omniglot", "omniglot", "images_background.zip"),
        ("norb", "norb", "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz"),
    ],
)
def test_missing_files_name_folder_file_and_source(tmp_path: Path, name, folder, expected_file) -> None:
    with pytest.raises(FileNotFoundError) as err:
        load_dataset(name, tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / folder) in message and expected_file in message and "http" in message


def _idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape) + array.tobytes()


def test_download_is_verified_before_it_lands(tmp_path: Path, monkeypatch) -> None:
    """Downloads go through a temp file and a checksum; a corrupt one leaves nothing behind."""
    import lvae.datasets

    rng = np.random.default_rng(0)
    content = {
        "train-images-idx3-ubyte": _idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": _idx_bytes(np.array([3, 1, 4, 1, 5, 9], np.uint8)),
        "t10k-images-idx3-ubyte": _idx_bytes(rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": _idx_bytes(np.array([2, 6], np.uint8)),
    }
    for stem, raw in content.items():  # pretend these tiny files are the canonical ones
        monkeypatch.setitem(lvae.datasets._MNIST_SHA256, stem, hashlib.sha256(raw).hexdigest())
    served = {f"{stem}.gz": gzip.compress(raw) for stem, raw in content.items()}
    requested = []

    def urlopen(url: str, timeout: float = 0):
        requested.append(url)
        name = url.rsplit("/", 1)[-1]
        return io.BytesIO(served[name] if "ossci" not in url else gzip.compress(b"corrupt mirror"))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    ds = load_dataset("mnist", tmp_path)
    assert requested[:2] == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",  # fails its checksum
        "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz",  # then the next mirror is tried
    ]
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(served)  # no .part files
    assert ds.train_y.tolist() == [3, 1, 4, 1, 5, 9] and ds.test_x.shape == (2, 784)

    served = {name: data[:-12] + bytes(12) for name, data in served.items()}  # every mirror corrupt
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        load_dataset("mnist", tmp_path / "other")
    assert not (tmp_path / "other").exists()  # nor the folders made for it


def test_image_dataset_checks_its_fields() -> None:
    x, y = np.zeros((2, 4), np.float32), np.zeros(2, np.int64)
    ImageDataset("t", x, y, x, y, (2, 2), "bernoulli", True)
    with pytest.raises(ValueError, match="train_x"):
        ImageDataset("t", x, y, x, y, (3, 3), "bernoulli", True)
    with pytest.raises(ValueError, match="dynamic_binarize"):
        ImageDataset("t", x, y, x, y, (2, 2), "gaussian", True)


def test_unwritable_cache_only_warns(tmp_path: Path) -> None:
    folder = tmp_path / "norb"
    folder.mkdir()
    dat = np.zeros((1, 2, 96, 96), np.uint8)
    for stem in ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing"):
        (folder / f"smallnorb-{stem}-dat.mat").write_bytes(_norb_bytes(NORB_BYTE, dat))
        (folder / f"smallnorb-{stem}-cat.mat").write_bytes(_norb_bytes(NORB_INT, np.array([3], np.int32)))
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write dataset cache"):
        ds = load_dataset("norb", tmp_path, download=False, cache_dir=not_a_dir)
    assert ds.train_y.tolist() == [3] and not ds.train_x.any()


@pytest.mark.network
def test_mnist_downloads_from_the_official_mirrors(tmp_path: Path) -> None:
    ds = load_dataset("mnist", tmp_path)
    assert np.bincount(ds.train_y).tolist() == MNIST_TRAIN_COUNTS


def test_a_local_mnist_file_that_is_not_the_canonical_one_is_an_input_error(tmp_path: Path) -> None:
    # a user's truncated or foreign copy: exit 2 with the file named, not an internal error
    from lvae.cli import run_cli
    from lvae.validate import main

    folder = tmp_path / "mnist"
    folder.mkdir()
    raw = struct.pack(">BBBBIII", 0, 0, 0x08, 3, 1, 28, 28) + bytes(784)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        (folder / stem).write_bytes(raw)
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, ["--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_a_damaged_gzip_file_is_an_input_error_naming_it(tmp_path: Path) -> None:
    from lvae.cli import InputError

    folder = tmp_path / "mnist"
    folder.mkdir()
    raw = gzip.compress(_idx_bytes(np.zeros((6, 28, 28), np.uint8)))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])  # a download cut short
    with pytest.raises(InputError, match=r"damaged gzip file .*train-images-idx3-ubyte\.gz"):
        load_dataset("mnist", tmp_path, download=False)
