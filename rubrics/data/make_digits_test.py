"""Make the digits-cnn exercise's held-out set: the digits the training file leaves out, each altered.

The training split handed to students (`digits-train.npz`, written by
`exercises/digits-cnn/make_data.py`) is cut from scikit-learn's bundled digits, so the images it
leaves out are public: anyone can rebuild them as `load_digits()` minus the handed-out file. Kept
as they are, a lookup table of them scores 1.0. So each left-out image gets independent integer
noise, -1, 0 or +1 per pixel with equal chance, clipped to the digits' range 0-16: no held-out
image is byte-identical to a public one (checked below), and the task stays as hard as it was
(graded, the reference solution scores 0.975 on these, as on the untouched images; a sub-pixel
shift was tried too, but on 8x8 images its blur cost the solution 0.05 to 0.15). Noise does not
stop a nearest-neighbour search for each image's source; the rubric's architecture checks do.

The transformation and its seed live here, beside the rubric and the held-out file it writes; what
students receive (`exercises/`, the rubric's `files:`) holds neither. `grade rubric check` warns
when a held-out set shares images with a public one.

Run from the repository root, after `make_data.py`: `.venv/bin/python rubrics/data/make_digits_test.py`.
The output is the same on every run (fixed seed), so the committed file can be regenerated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

SEED = 7411
NOISE = 1  # each pixel moves by at most this much
MAX_VALUE = 16  # the digits' pixel values lie in 0..16
HERE = Path(__file__).resolve().parent


def left_out(train_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """The public digits (images and labels) that the training file does not hold.

    Matched by each image's bytes rather than by re-running the exercise's split, so the held-out
    set follows whatever training file is handed out and can never overlap it.
    """
    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    with np.load(train_file, allow_pickle=False) as archive:
        handed_out = {image.tobytes() for image in archive["x"].astype(np.uint8)}
    keep = np.array([image.tobytes() not in handed_out for image in images])
    if len(images) - keep.sum() != len(handed_out):
        raise SystemExit(f"{train_file} holds images that are not scikit-learn's digits; rerun make_data.py")
    return images[keep], labels[keep]


def altered(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image plus integer noise, clipped to 0..16; drawn again where it lands on a public image."""
    public = {image.tobytes() for image in load_digits().images.astype(np.uint8)}
    out = np.empty_like(images)
    for index, image in enumerate(images):
        while True:
            noise = rng.integers(-NOISE, NOISE + 1, size=image.shape)
            candidate = np.clip(image.astype(np.int16) + noise, 0, MAX_VALUE).astype(np.uint8)
            if candidate.tobytes() not in public:
                break
        out[index] = candidate
    return out


def held_out(train_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """The held-out images and labels, the same on every run."""
    rng = np.random.default_rng(SEED)
    images, labels = left_out(train_file)
    order = rng.permutation(len(images))  # the file's order says nothing about the public order
    return altered(images[order], rng), labels[order]


def main() -> None:
    x, y = held_out(HERE / "digits-train.npz")
    np.savez_compressed(HERE / "digits-test.npz", x=x, y=y)
    print(f"{len(x)} held-out images written to {HERE / 'digits-test.npz'}")


if __name__ == "__main__":
    main()
