"""Stand-ins for the course's hand-outs, so that its transfer-learning notebooks can be graded anywhere.

The course hands its students the dog images (1 GB), VGG-16 bottleneck features computed from
them (DogVGG16Data.npz, 1 GB), a few sample images, and lets Keras download VGG-16's ImageNet
weights (58 MB without the top, 528 MB with it). None of that is committed here, and the grader
never downloads. This script writes small files in exactly those formats, into a folder that the
rubrics' `assets:` and accuracy data point at, and stand-in VGG-16 weights into a Keras cache:

    python exercises/transfer-learning/make_standins.py rubrics/data            # course files
    python exercises/transfer-learning/make_standins.py rubrics/data --weights ~/.keras/models [--top]

An instructor grading for real puts the course's own files in the same places instead.

The bottleneck features are made to be learnable: each breed lights its own block of channels, so
the course's small classifier on top reaches full accuracy on the stand-in test features within
its 20 epochs. They follow the order `sklearn.datasets.load_files` reads the images in (it
shuffles them with a fixed seed), as the course's file does, so features and targets line up.
The weights are seeded, not ImageNet's; the fully-connected layers of the top are zeros, which
gzip stores in a few hundred kilobytes instead of 470 MB.
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

import numpy as np

BREEDS = ("Affenpinscher", "Afghan_hound", "Airedale_terrier")
SPLITS = {"train": 4, "valid": 1, "test": 2}
"""Images per breed in each split of dogImages/ (the course's: 133 breeds, 6,680 / 835 / 836 images)."""
FEATURE_SHAPE = (7, 7, 512)
SAMPLE_IMAGES = ("American_water_spaniel_00648.jpg", "Brittany_02625.jpg")
NOTOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
TOP = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
SEED = 20170614


def write_course_files(folder: Path) -> None:
    """transfer-learning/{dogImages, bottleneck_features, dog-test-features.npz, images} and conv-visualization/images."""
    rng = np.random.default_rng(SEED)
    transfer = folder / "transfer-learning"
    for split, count in SPLITS.items():
        for number, breed in enumerate(BREEDS, start=1):
            breed_folder = transfer / "dogImages" / split / f"{number:03d}.{breed}"
            breed_folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                _jpeg(breed_folder / f"{breed}_{number:02d}{index:03d}.jpg", rng, (24, 32))
    write_features(transfer, rng)
    (transfer / "images").mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_IMAGES:
        _jpeg(transfer / "images" / name, rng, (40, 30))
    (folder / "conv-visualization" / "images").mkdir(parents=True, exist_ok=True)
    _road(folder / "conv-visualization" / "images" / "udacity_sdc.png")


def write_features(transfer: Path, rng: np.random.Generator) -> None:
    """DogVGG16Data.npz (train, valid, test) in load_files' order, and the test split as held-out data (x, y)."""
    from sklearn.datasets import load_files

    arrays = {}
    for split in SPLITS:
        targets = np.asarray(load_files(str(transfer / "dogImages" / split))["target"])
        arrays[split] = _features(targets, rng)
        if split == "test":
            test_targets = targets
    (transfer / "bottleneck_features").mkdir(parents=True, exist_ok=True)
    np.savez(transfer / "bottleneck_features" / "DogVGG16Data.npz", **arrays)
    np.savez(transfer / "dog-test-features.npz", x=arrays["test"], y=test_targets)


def _features(targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Non-negative like a ReLU's output; breed k's images light channels [k·170, (k+1)·170)."""
    found = np.abs(rng.normal(0, 0.1, size=(len(targets), *FEATURE_SHAPE))).astype(np.float32)
    block = FEATURE_SHAPE[-1] // len(BREEDS)
    for row, target in enumerate(targets):
        found[row, :, :, target * block : (target + 1) * block] += 2.0
    return found


def _jpeg(path: Path, rng: np.random.Generator, size: tuple[int, int]) -> None:
    from PIL import Image

    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG")


def _road(path: Path) -> None:
    """A 160×120 road-like picture: sky, a grey road with lane lines, the edges the lesson's filters find."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (135, 180, 230))
    draw = ImageDraw.Draw(image)
    draw.polygon([(0, 120), (160, 120), (100, 50), (60, 50)], fill=(90, 90, 90))
    draw.line([(40, 120), (75, 55)], fill=(250, 250, 250), width=3)
    draw.line([(120, 120), (85, 55)], fill=(250, 230, 60), width=3)
    draw.rectangle([(10, 70), (40, 100)], fill=(200, 30, 30))
    image.save(path, "PNG")


def write_weights(models: Path, top: bool) -> float:
    """Seeded VGG-16 weights in the HDF5 layout keras.applications reads; the sum of block1_conv1's kernel."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(SEED)
    base = keras.applications.VGG16(weights=None, include_top=top, input_shape=(224, 224, 3))
    for name in ("fc1", "fc2", "predictions") if top else ():
        layer = base.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    models.mkdir(parents=True, exist_ok=True)
    _save_compressed(base, models / (TOP if top else NOTOP))
    return float(base.get_layer("block1_conv1").get_weights()[0].sum())


def _save_compressed(model: object, path: Path) -> None:
    """Keras' own legacy HDF5 writer, with every array gzip-compressed (h5py reads it back transparently)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    original = h5py.Group.create_dataset
    h5py.Group.create_dataset = functools.partialmethod(original, compression="gzip", compression_opts=1)  # type: ignore[method-assign]
    try:
        with h5py.File(path, "w") as handle:
            legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    finally:
        h5py.Group.create_dataset = original  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the course files go (the rubrics' data folder)")
    parser.add_argument(
        "--weights", type=Path, help="a Keras cache's models/ folder: write VGG-16 weights there"
    )
    parser.add_argument("--top", action="store_true", help="also the weights with the top (the full network)")
    arguments = parser.parse_args()
    write_course_files(arguments.folder)
    if arguments.weights is not None:
        print("block1_conv1 kernel sum:", write_weights(arguments.weights, top=False))
        if arguments.top:
            print("block1_conv1 kernel sum (with top):", write_weights(arguments.weights, top=True))


if __name__ == "__main__":
    main()
