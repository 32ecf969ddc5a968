"""Make the digits-cnn exercise's training data, the file handed out to students.

The images are scikit-learn's bundled handwritten digits (1,797 images, 8x8, pixel values 0-16).
A fixed, stratified 80 % of them goes to `rubrics/data/digits-train.npz`, which the rubric's
`files:` list copies into the student's working directory: `x` (uint8, N x 8 x 8) and `y`
(uint8, N). What the grader measures a trained model on is made beside the rubric, not here.

Run from the repository root: `.venv/bin/python exercises/digits-cnn/make_data.py`.
The output is the same on every run (fixed seed), so the committed file can be regenerated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

TRAIN = 1437
SEED = 0


def main() -> None:
    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    x_train, _, y_train, _ = train_test_split(
        images, labels, train_size=TRAIN, stratify=labels, random_state=SEED
    )
    out = Path(__file__).resolve().parents[2] / "rubrics" / "data"
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "digits-train.npz", x=x_train, y=y_train)
    print(f"{len(x_train)} training images written to {out / 'digits-train.npz'}")


if __name__ == "__main__":
    main()
