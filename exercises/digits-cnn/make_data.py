"""Make the digits-cnn exercise's data: a training split for students, a held-out split for the grader.

The images are scikit-learn's bundled handwritten digits (1,797 images, 8x8, pixel values 0-16).
A fixed, stratified 80/20 split: `rubrics/data/digits-train.npz` is copied into the student's
working directory by the rubric's `files:` list; `rubrics/data/digits-test.npz` stays beside the
rubric and is read only by the grader. Both hold `x` (uint8, N x 8 x 8) and `y` (uint8, N).

Run from the repository root: `.venv/bin/python exercises/digits-cnn/make_data.py`.
The output is the same on every run (fixed seed), so the committed files can be regenerated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HELD_OUT = 360
SEED = 0


def main() -> None:
    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=HELD_OUT, stratify=labels, random_state=SEED
    )
    out = Path(__file__).resolve().parents[2] / "rubrics" / "data"
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "digits-train.npz", x=x_train, y=y_train)
    np.savez_compressed(out / "digits-test.npz", x=x_test, y=y_test)
    print(f"{len(x_train)} training and {len(x_test)} held-out images written to {out}")


if __name__ == "__main__":
    main()
