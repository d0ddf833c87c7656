"""Image datasets for validating the Ladder VAE: MNIST, binarized MNIST, OMNIGLOT and smallNORB.

`load_dataset(name)` returns an `ImageDataset` of flattened float32 arrays. Files are looked up in
`<data_dir>/<folder>/` (folders `mnist`, `binarized_mnist`, `omniglot`, `norb`, the layout of the shared
staging area); `data_dir` defaults to `$LVAE_DATA_DIR`, else `~/.cache/ladder-trader/datasets`. A missing file
is downloaded from its official URL into a temporary file, checked against a known checksum and only then
renamed into place, so an interrupted or corrupt download never leaves a file behind.

Preprocessing (per dataset):
- mnist: IDX files (gzip or raw). train_x = intensities/255 (dynamic_binarize=True: the trainer resamples
  Bernoulli(train_x) each epoch); test_x binarised ONCE with `np.random.default_rng(seed)`.
- binarized-mnist: Larochelle & Murray's fixed stochastic binarisation; train = train+valid (60,000),
  test 10,000; no labels exist, so train_y/test_y are -1.
- omniglot: the official background / evaluation zips (`images_background/<Alphabet>/characterNN/NNNN_DD.png`,
  DD = the drawer, 1-20, one image per drawer and character): 105x105 PNGs resized to 28x28 (PIL Lanczos, i.e.
  antialiased), inverted so strokes are 1. `omniglot_split="drawer"` (default, the LVAE/IWAE setting, as in
  the original code): all 50 alphabets in both sets, drawers 1-15 train, 16-20 test (24,345 / 8,115); the
  IWAE `omniglot/chardata.mat` (24,345/8,070, 28x28), itself such a split, is used instead when present.
  `omniglot_split="alphabet"`: background zip = train, evaluation zip = test (19,280 / 13,180, test
  alphabets unseen). Labels are ALPHABET indices over all 50 (0-29 background, 30-49 evaluation; chardata:
  argmax of `target`). Dynamic binarisation like MNIST. The resized zip arrays (with alphabets and drawers)
  are cached as .npz; both splits are cut from that one cache.
- norb: smallNORB binary matrices; the LEFT image of each stereo pair (camera 0, as the LVAE code does), 96x96
  -> 32x32 bicubic (PIL), scaled to [0, 1], Gaussian likelihood. Also cached as .npz.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import struct
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lvae.cli import InputError

DATASET_NAMES = ("mnist", "binarized-mnist", "omniglot", "norb")
OMNIGLOT_SPLITS = ("drawer", "alphabet")  # see the module docstring
# Bump a dataset's version when the preprocessing or the layout of its cache changes (it is part of the key).
# omniglot 2: the cache holds each zip's images, alphabets and drawers, not a fixed train/test split.
_CACHE_VERSIONS = {"omniglot": 2, "norb": 1}


@dataclass(frozen=True)
class ImageDataset:
    """A train/test image set, flattened to (N, D) float32 rows."""

    name: str  # one of DATASET_NAMES
    train_x: np.ndarray  # (N, D) float32; intensities in [0,1] when dynamic_binarize else final values
    train_y: np.ndarray  # (N,) int64 class labels (for PCA colouring); -1 where the source has none
    test_x: np.ndarray  # (M, D) float32; binarised ONCE with a fixed seed when dynamic_binarize
    test_y: np.ndarray  # (M,) int64
    image_shape: tuple[int, ...]  # e.g. (28, 28); prod(image_shape) == D
    likelihood: str  # "bernoulli" | "gaussian"
    dynamic_binarize: bool  # True: fit() must resample Bernoulli(train_x) each epoch

    def __post_init__(self) -> None:
        dim = int(np.prod(self.image_shape))
        for split, x, y in (("train", self.train_x, self.train_y), ("test", self.test_x, self.test_y)):
            if x.ndim != 2 or x.shape[1] != dim or x.dtype != np.float32:
                raise ValueError(f"{split}_x must be float32 (N, {dim}), got {x.dtype} {x.shape}")
            if y.shape != (x.shape[0],) or y.dtype != np.int64:
                raise ValueError(f"{split}_y must be int64 ({x.shape[0]},), got {y.dtype} {y.shape}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        if self.dynamic_binarize and self.likelihood != "bernoulli":
            raise ValueError("dynamic_binarize needs the bernoulli likelihood")


@dataclass(frozen=True)
class RemoteFile:
    """A dataset file with where to download it and the checksum a download must have."""

    name: str  # file name inside the dataset folder
    urls: tuple[str, ...]  # official locations, tried in order
    digest: str  # expected hex digest
    algorithm: str = "sha256"  # hashlib algorithm of `digest`
    of: str = "file"  # what is hashed: "file" (bytes as downloaded) or "gunzipped" (content after gunzip)


# ---------------------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    *,
    download: bool = True,
    cache_dir: str | Path | None = None,
    omniglot_split: str = "drawer",
) -> ImageDataset:
    """Load one of DATASET_NAMES.

    data_dir: folder holding `<folder>/<file>` (default $LVAE_DATA_DIR, else ~/.cache/ladder-trader/datasets).
    limit: keep the first `limit` examples of each split (quick runs); None keeps all.
    seed: seed of the one-time test-set binarisation (mnist, omniglot); unused otherwise.
    download: fetch missing files from the official URLs; False raises FileNotFoundError instead.
    cache_dir: where derived .npz arrays go (omniglot zips, norb); default $LVAE_CACHE_DIR, else
        ~/.cache/ladder-trader/derived. A failing cache write only warns.
    omniglot_split: one of OMNIGLOT_SPLITS: "drawer" (all alphabets in both sets; drawers 1-15 train, 16-20
        test; chardata.mat when present) or "alphabet" (background zip train, evaluation zip test). Checked
        for every dataset, used by omniglot only.
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    if omniglot_split not in OMNIGLOT_SPLITS:
        raise ValueError(f"unknown omniglot_split {omniglot_split!r}; valid: {', '.join(OMNIGLOT_SPLITS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    root = Path(data_dir if data_dir is not None else _default_data_dir()).expanduser()
    cache = Path(cache_dir if cache_dir is not None else _default_cache_dir()).expanduser()
    if name == "omniglot":
        ds = _load_omniglot(root, seed, download, cache, omniglot_split)
    else:
        ds = _LOADERS[name](root, seed, download, cache)
    return _take_first(ds, limit) if limit is not None else ds


def binarize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Bernoulli(x) draw per pixel, as float32 0/1 (x: intensities in [0, 1])."""
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _default_data_dir() -> Path:
    return Path(os.environ.get("LVAE_DATA_DIR", "~/.cache/ladder-trader/datasets"))


def _default_cache_dir() -> Path:
    return Path(os.environ.get("LVAE_CACHE_DIR", "~/.cache/ladder-trader/derived"))


def _take_first(ds: ImageDataset, n: int) -> ImageDataset:
    return ImageDataset(
        name=ds.name,
        train_x=ds.train_x[:n].copy(),  # copies, so the full arrays can be freed
        train_y=ds.train_y[:n].copy(),
        test_x=ds.test_x[:n].copy(),
        test_y=ds.test_y[:n].copy(),
        image_shape=ds.image_shape,
        likelihood=ds.likelihood,
        dynamic_binarize=ds.dynamic_binarize,
    )


# ---------------------------------------------------------------------------------------------------------
# Files: locate, download (temp file -> checksum -> atomic rename), atomic cache writes
# ---------------------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic (whatever its extension)."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:  # truncated or damaged: say which file, not where it broke
        raise InputError(f"damaged gzip file ({err})", str(path)) from err


def _digest(path: Path, spec: RemoteFile) -> str:
    data = _read_bytes(path) if spec.of == "gunzipped" else path.read_bytes()
    return hashlib.new(spec.algorithm, data).hexdigest()


def _download(spec: RemoteFile, dest: Path, verify: Callable[[Path], object]) -> Path:
    """Try each URL: stream to a temp file beside `dest`, verify it, then rename it to `dest`. When every URL
    fails, the folders this call made are removed again (nothing is left half-written)."""
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]  # deepest first
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in spec.urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out, 1 << 20)
            verify(tmp)
            os.replace(tmp, dest)
            return dest
        except (OSError, ValueError, http.client.HTTPException) as err:
            errors.append(f"{url}: {err}")
        finally:
            tmp.unlink(missing_ok=True)
    for folder in made:
        try:
            folder.rmdir()
        except OSError:  # something else was written there meanwhile
            break
    raise FileNotFoundError("; ".join(errors))


def _checksum_verifier(spec: RemoteFile) -> Callable[[Path], None]:
    def verify(path: Path) -> None:
        got = _digest(path, spec)
        if got != spec.digest:
            raise InputError(f"checksum mismatch: {spec.algorithm} of {spec.of} {got} != {spec.digest}", str(path))

    return verify


def _require(
    dataset: str,
    folder: Path,
    spec: RemoteFile,
    download: bool,
    alternatives: Sequence[str] = (),
    verify: Callable[[Path], object] | None = None,
) -> Path:
    """The first of spec.name/alternatives present in `folder`, else download spec.name (or raise)."""
    for candidate in (spec.name, *alternatives):
        if (folder / candidate).is_file():
            return folder / candidate
    wanted = " or ".join((spec.name, *alternatives))
    how = (
        f"Get it from {spec.urls[0]} and put it in {folder}, or point data_dir / $LVAE_DATA_DIR at a folder "
        f"holding {folder.name}/{spec.name}."
    )
    if not download:
        raise FileNotFoundError(f"{dataset}: {wanted} not found in {folder} (download=False). {how}")
    try:
        return _download(spec, folder / spec.name, verify or _checksum_verifier(spec))
    except OSError as err:
        raise FileNotFoundError(
            f"{dataset}: {wanted} not found in {folder} and download failed ({err}). {how}"
        ) from err


def _cache_path(cache_dir: Path, dataset: str, sources: Sequence[Path]) -> Path:
    """Cache file keyed by the preprocessing version and each source's name, size and mtime."""
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sources]
    key = hashlib.sha256(json.dumps([_CACHE_VERSIONS[dataset], dataset, stats]).encode()).hexdigest()[:16]
    return cache_dir / f"{dataset}-{key}.npz"


def _load_cache(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The cached arrays `keys`, or None when the file is absent, unreadable or lacks one of them."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as npz:
            if not set(keys) <= set(npz.files):
                return None  # another layout: rebuild it
            return {k: npz[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile):
        return None  # unreadable cache: rebuild it


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to a temp .npz beside `path`, then rename: readers never see half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp_name, path)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    except OSError as err:
        warnings.warn(f"could not write dataset cache {path}: {err}", stacklevel=3)


# ---------------------------------------------------------------------------------------------------------
# MNIST (IDX)
# ---------------------------------------------------------------------------------------------------------

_MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
# sha256 of the uncompressed IDX content (canonical md5s 6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...)
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes) -> np.ndarray:
    """Parse IDX bytes: 2 zero bytes, dtype code, ndim, ndim big-endian uint32 dims, then the data."""
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"not an IDX file (header {raw[:4].hex()})")
    ndim = raw[3]
    dims = struct.unpack_from(f">{ndim}I", raw, 4)
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError(f"IDX size mismatch: dims {dims} of {dtype}, {len(raw) - offset} data bytes")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, gzipped or raw."""
    return parse_idx(_read_bytes(Path(path)))


def _mnist_array(folder: Path, stem: str, download: bool) -> np.ndarray:
    spec = RemoteFile(f"{stem}.gz", tuple(u + f"{stem}.gz" for u in _MNIST_URLS), _MNIST_SHA256[stem], of="gunzipped")
    path = _require("mnist", folder, spec, download, alternatives=(stem, stem.replace("-idx", ".idx")))
    raw = _read_bytes(path)
    if hashlib.sha256(raw).hexdigest() != spec.digest:
        raise InputError(f"mnist: not the canonical {stem} (sha256 mismatch); delete it", str(path))
    return parse_idx(raw)


def _load_mnist(root: Path, seed: int, download: bool, cache_dir: Path) -> ImageDataset:
    folder = root / "mnist"
    train = _mnist_array(folder, "train-images-idx3-ubyte", download)
    train_y = _mnist_array(folder, "train-labels-idx1-ubyte", download)
    test = _mnist_array(folder, "t10k-images-idx3-ubyte", download)
    test_y = _mnist_array(folder, "t10k-labels-idx1-ubyte", download)
    test_intensity = test.reshape(len(test), -1).astype(np.float32) / 255.0
    return ImageDataset(
        name="mnist",
        train_x=train.reshape(len(train), -1).astype(np.float32) / 255.0,
        train_y=train_y.astype(np.int64),
        test_x=binarize(test_intensity, np.random.default_rng(seed)),
        test_y=test_y.astype(np.int64),
        image_shape=(28, 28),
        likelihood="bernoulli",
        dynamic_binarize=True,
    )


# ---------------------------------------------------------------------------------------------------------
# Binarized MNIST (Larochelle & Murray 2011)
# ---------------------------------------------------------------------------------------------------------

_BINARIZED_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
# sha256 of the (rows, 784) uint8 0/1 matrix in C order: same for the .amat text, its .gz and the .mat copy
_BINARIZED_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}


def parse_amat(text: bytes, dim: int = 784) -> np.ndarray:
    """Parse Larochelle's .amat text (one image per line, `dim` space-separated 0/1) -> (N, dim) uint8."""
    stripped = text.strip()
    rows = stripped.count(b"\n") + 1 if stripped else 0
    digits = text.translate(None, b" \t\r\n")
    x = np.frombuffer(digits, np.uint8) - np.uint8(ord("0"))
    if x.size != rows * dim or (x > 1).any():
        raise ValueError(f"not a binary .amat of {dim} columns ({rows} lines, {len(digits)} digits)")
    return x.reshape(rows, dim)


def _read_binarized(path: Path) -> np.ndarray:
    if path.suffix == ".mat":
        import scipy.io

        return np.ascontiguousarray(scipy.io.loadmat(path)["X"], dtype=np.uint8)
    return parse_amat(_read_bytes(path))


def _binarized_split(folder: Path, split: str, download: bool) -> np.ndarray:
    stem = f"binarized_mnist_{split}"
    spec = RemoteFile(f"{stem}.amat", (_BINARIZED_URL + f"{stem}.amat",), _BINARIZED_SHA256[split])

    def check(path: Path) -> np.ndarray:
        x = _read_binarized(path)
        if hashlib.sha256(x.tobytes()).hexdigest() != spec.digest:
            raise InputError(f"not Larochelle's binarized MNIST {split} split (sha256 mismatch)", str(path))
        return x

    path = _require("binarized-mnist", folder, spec, download, (f"{stem}.mat", f"{stem}.amat.gz"), check)
    return check(path)


def _load_binarized_mnist(root: Path, seed: int, download: bool, cache_dir: Path) -> ImageDataset:
    folder = root / "binarized_mnist"
    train = np.concatenate([_binarized_split(folder, s, download) for s in ("train", "valid")])
    test = _binarized_split(folder, "test", download)
    return ImageDataset(
        name="binarized-mnist",
        train_x=train.astype(np.float32),
        train_y=np.full(len(train), -1, np.int64),
        test_x=test.astype(np.float32),
        test_y=np.full(len(test), -1, np.int64),
        image_shape=(28, 28),
        likelihood="bernoulli",
        dynamic_binarize=False,
    )


# ---------------------------------------------------------------------------------------------------------
# OMNIGLOT
# ---------------------------------------------------------------------------------------------------------

_OMNIGLOT_URL = "https://github.com/brendenlake/omniglot/raw/master/python/"
_OMNIGLOT_MD5 = {  # md5 of the official zips (as in torchvision)
    "images_background": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
}
OMNIGLOT_SIDE = 28  # resized image side
OMNIGLOT_TRAIN_DRAWERS = 15  # drawer split: drawers 1-15 train, 16-20 test (as the original LVAE code)
OMNIGLOT_DRAWERS = 20  # drawers (people who drew each character once), numbered 1-20 in the PNG names


class OmniglotZip(NamedTuple):
    """One Omniglot zip, its PNGs in sorted order."""

    images: np.ndarray  # (N, side, side) uint8, strokes 255
    alphabets: np.ndarray  # (N,) int64 alphabet index, alphabets numbered in sorted order from 0
    drawers: np.ndarray  # (N,) int64 drawer 1-20, the `_DD` suffix of the PNG name


def omniglot_drawer(name: str) -> int:
    """The drawer of an Omniglot PNG, the `DD` of `.../NNNN_DD.png` (1-20); ValueError for another name."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".png")
    _, sep, digits = stem.rpartition("_")
    if not sep or not digits.isdigit() or not 1 <= int(digits) <= OMNIGLOT_DRAWERS:
        raise ValueError(f"omniglot: {name!r} is not named <image>_<drawer 01-{OMNIGLOT_DRAWERS}>.png")
    return int(digits)


def omniglot_from_zip(path: str | Path, side: int = OMNIGLOT_SIDE) -> OmniglotZip:
    """Images, alphabet indices and drawers of an Omniglot zip.

    Entries `<set>/<Alphabet>/characterNN/NNNN_DD.png`, taken in sorted order; alphabets numbered in sorted order.
    """
    from PIL import Image

    with zipfile.ZipFile(path) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".png"))
        drawers = np.array([omniglot_drawer(n) for n in names], np.int64)  # checks every name before decoding
        alphabets = sorted({n.split("/")[-3] for n in names})
        index = {a: i for i, a in enumerate(alphabets)}
        images = np.empty((len(names), side, side), np.uint8)
        for i, n in enumerate(names):
            with Image.open(io.BytesIO(zf.read(n))) as im:
                small = im.convert("L").resize((side, side), Image.Resampling.LANCZOS)
            images[i] = 255 - np.asarray(small)  # PNG strokes are black: invert so strokes are 1
    labels = np.array([index[n.split("/")[-3]] for n in names], np.int64)
    return OmniglotZip(images, labels, drawers)


def split_omniglot(background: OmniglotZip, evaluation: OmniglotZip, split: str) -> dict[str, np.ndarray]:
    """Train/test images (uint8) and alphabet labels (0-29 background, 30-49 evaluation) for `split`.

    "drawer": both zips (background first, each in sorted order), drawers 1-15 train, 16-20 test.
    "alphabet": background train, evaluation test.
    """
    offset = int(background.alphabets.max()) + 1 if len(background.alphabets) else 0
    images = np.concatenate([background.images, evaluation.images])
    labels = np.concatenate([background.alphabets, evaluation.alphabets + offset])
    if split == "drawer":
        drawers = np.concatenate([background.drawers, evaluation.drawers])
        is_train = drawers <= OMNIGLOT_TRAIN_DRAWERS
    elif split == "alphabet":
        is_train = np.arange(len(images)) < len(background.images)
    else:
        raise ValueError(f"unknown omniglot_split {split!r}; valid: {', '.join(OMNIGLOT_SPLITS)}")
    return {
        "train": images[is_train],
        "train_y": labels[is_train],
        "test": images[~is_train],
        "test_y": labels[~is_train],
    }


def _omniglot_zip_arrays(folder: Path, download: bool, cache_dir: Path, split: str) -> dict[str, np.ndarray]:
    paths = []
    for stem, md5 in _OMNIGLOT_MD5.items():
        spec = RemoteFile(f"{stem}.zip", (f"{_OMNIGLOT_URL}{stem}.zip",), md5, "md5")
        paths.append(_require("omniglot", folder, spec, download))
    cache = _cache_path(cache_dir, "omniglot", paths)
    sets = ("background", "evaluation")
    keys = [f"{s}_{field}" for s in sets for field in OmniglotZip._fields]
    arrays = _load_cache(cache, keys)
    if arrays is None:
        zips = dict(zip(sets, (omniglot_from_zip(p) for p in paths), strict=True))
        arrays = {f"{s}_{field}": getattr(zips[s], field) for s in sets for field in OmniglotZip._fields}
        _save_cache(cache, arrays)
    background, evaluation = (OmniglotZip(*(arrays[f"{s}_{f}"] for f in OmniglotZip._fields)) for s in sets)
    out = split_omniglot(background, evaluation, split)
    for part in ("train", "test"):
        out[part] = out[part].reshape(len(out[part]), -1).astype(np.float32) / 255.0
    return out


def read_chardata(path: str | Path) -> dict[str, np.ndarray]:
    """The IWAE `chardata.mat`: data (784, N) / testdata (784, M), images flattened column-major (MATLAB).

    Returns row-major images (N, 784) float32 in [0, 1] and alphabet indices (argmax of the one-hot `target`).
    Transposing each 28x28 image equals IWAE's `reshape((-1, 28, 28)).reshape((-1, 784), order='F')`.
    """
    import scipy.io

    m = scipy.io.loadmat(path)

    def images(key: str) -> np.ndarray:
        x = np.asarray(m[key], np.float32).T.reshape(-1, 28, 28).transpose(0, 2, 1)
        return np.clip(x.reshape(len(x), -1), 0.0, 1.0)

    return {
        "train": images("data"),
        "train_y": np.argmax(m["target"], axis=0).astype(np.int64),
        "test": images("testdata"),
        "test_y": np.argmax(m["testtarget"], axis=0).astype(np.int64),
    }


def _load_omniglot(root: Path, seed: int, download: bool, cache_dir: Path, split: str = "drawer") -> ImageDataset:
    folder = root / "omniglot"
    chardata = folder / "chardata.mat"
    if split == "drawer" and chardata.is_file():  # the IWAE/LVAE split, preferred when present
        arrays = read_chardata(chardata)
    else:
        arrays = _omniglot_zip_arrays(folder, download, cache_dir, split)
    return ImageDataset(
        name="omniglot",
        train_x=arrays["train"],
        train_y=arrays["train_y"],
        test_x=binarize(arrays["test"], np.random.default_rng(seed)),
        test_y=arrays["test_y"],
        image_shape=(OMNIGLOT_SIDE, OMNIGLOT_SIDE),
        likelihood="bernoulli",
        dynamic_binarize=True,
    )


# ---------------------------------------------------------------------------------------------------------
# smallNORB
# ---------------------------------------------------------------------------------------------------------

_NORB_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
# md5 of the official .gz downloads
_NORB_FILES = {
    "train_dat": ("smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat", "66054832f9accfe74a0f4c36a75bc0a2"),
    "train_cat": ("smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat", "23c8b86101fbf0904a000b43d3ed2fd9"),
    "test_dat": ("smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat", "e4ad715691ed5a3a5f138751a4ceb071"),
    "test_cat": ("smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat", "5aa791cd7e6016cf957ce9bdb93b8603"),
}
NORB_MAGIC = {  # smallNORB "binary matrix" type codes -> element dtype (little-endian)
    0x1E3D4C51: np.dtype("<f4"),  # single precision
    0x1E3D4C53: np.dtype("<f8"),  # double precision
    0x1E3D4C54: np.dtype("<i4"),  # integer
    0x1E3D4C55: np.dtype("u1"),  # byte
    0x1E3D4C56: np.dtype("<i2"),  # short
}
NORB_CAMERA = 0  # which image of each stereo pair is used (0 = left, as in the LVAE code)
NORB_SIDE = 32  # resized image side


def parse_norb_matrix(raw: bytes) -> np.ndarray:
    """Parse a smallNORB binary matrix: int32 magic, int32 ndim, max(3, ndim) int32 dims, data; little-endian.

    Matrices of fewer than 3 dimensions still store 3 dims (the unused ones are 1); they are dropped here.
    """
    if len(raw) < 8:
        raise ValueError("not a smallNORB matrix: file shorter than its header")
    magic, ndim = struct.unpack_from("<Ii", raw, 0)
    if magic not in NORB_MAGIC or not 0 < ndim < 64:
        raise ValueError(f"not a smallNORB matrix: magic {magic:#x}, ndim {ndim}")
    stored = max(3, ndim)
    dims = struct.unpack_from(f"<{stored}i", raw, 8)[:ndim]
    dtype, offset = NORB_MAGIC[magic], 8 + 4 * stored
    if len(raw) - offset != int(np.prod(dims)) * dtype.itemsize:
        raise ValueError(f"smallNORB size mismatch: dims {dims} of {dtype}, {len(raw) - offset} data bytes")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims)


def read_norb_matrix(path: str | Path) -> np.ndarray:
    """Read a smallNORB `.mat` binary matrix, gzipped or raw."""
    return parse_norb_matrix(_read_bytes(Path(path)))


def norb_images(dat: np.ndarray, side: int = NORB_SIDE, camera: int = NORB_CAMERA) -> np.ndarray:
    """(N, 2, H, W) uint8 stereo pairs -> (N, side, side) uint8, one camera, PIL bicubic resize."""
    from PIL import Image

    if dat.ndim != 4 or dat.shape[1] != 2:
        raise ValueError(f"expected (N, 2, H, W) stereo pairs, got {dat.shape}")
    out = np.empty((len(dat), side, side), np.uint8)
    for i, image in enumerate(dat[:, camera]):
        out[i] = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC))
    return out


def _load_norb(root: Path, seed: int, download: bool, cache_dir: Path) -> ImageDataset:
    folder = root / "norb"
    paths = {
        key: _require(
            "norb",
            folder,
            RemoteFile(f"{name}.gz", (_NORB_URL + f"{name}.gz",), md5, "md5"),
            download,
            alternatives=(name,),
        )
        for key, (name, md5) in _NORB_FILES.items()
    }
    cache = _cache_path(cache_dir, "norb", list(paths.values()))
    arrays = _load_cache(cache, ("train", "train_y", "test", "test_y"))
    if arrays is None:
        arrays = {}
        for split in ("train", "test"):
            arrays[split] = norb_images(read_norb_matrix(paths[f"{split}_dat"]))
            arrays[f"{split}_y"] = read_norb_matrix(paths[f"{split}_cat"]).astype(np.int64).reshape(-1)
            if len(arrays[split]) != len(arrays[f"{split}_y"]):
                raise ValueError(f"norb: {split} images and categories differ in length")
        _save_cache(cache, arrays)
    train, test = arrays["train"], arrays["test"]
    return ImageDataset(
        name="norb",
        train_x=train.reshape(len(train), -1).astype(np.float32) / 255.0,
        train_y=arrays["train_y"],
        test_x=test.reshape(len(test), -1).astype(np.float32) / 255.0,
        test_y=arrays["test_y"],
        image_shape=(NORB_SIDE, NORB_SIDE),
        likelihood="gaussian",
        dynamic_binarize=False,
    )


_LOADERS: dict[str, Callable[[Path, int, bool, Path], ImageDataset]] = {
    "mnist": _load_mnist,
    "binarized-mnist": _load_binarized_mnist,
    "omniglot": _load_omniglot,
    "norb": _load_norb,
}
