"""Throughput of the grader's evaluator against a bare `model.predict`, on the same model and data.

10,000 generated 32x32x3 inputs through the lesson's CIFAR-10 CNN (528,054 parameters), saved to
`.keras` and loaded back with `safe_mode=True` as the grader does. Each way runs once to warm up,
then `--repeats` times; the median time is reported as images per second. Prints numbers; not a test.

    .venv/bin/python benchmarks/evaluate_throughput.py [--images 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.grading import datasets, evaluate
from grader.inside.inspector import measure


def lesson_cnn() -> object:
    from keras import Input, Sequential, layers

    return Sequential(
        [
            Input((32, 32, 3)),
            layers.Conv2D(16, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


def timed(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    predictions = run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictions = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    keras = measure.keras_module()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, args.images)
    data = datasets.prepare_arrays(pixels, labels, datasets.Preprocess(rescale=1 / 255), "generated")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        lesson_cnn().save(path)  # type: ignore[attr-defined]
        model = measure.load_model(path)

    import tensorflow as tf

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(f"{args.images:,} inputs of 32x32x3, lesson CNN, on {device}; median of {args.repeats} runs")
    ours, predicted = timed(lambda: evaluate.predict_classes(model, data, batch_size=256), args.repeats)
    print(f"  grader evaluator (batch 256):   {args.images / ours:10,.0f} images/s  ({ours:.3f} s)")
    for batch_size in (32, 256):
        bare, reference = timed(
            lambda b=batch_size: model.predict(data.x, batch_size=b, verbose=0).argmax(axis=1), args.repeats
        )
        same = "same predictions" if np.array_equal(predicted, reference) else "PREDICTIONS DIFFER"
        print(
            f"  model.predict (batch {batch_size:>3}):     {args.images / bare:10,.0f} images/s  ({bare:.3f} s)"
            f"  -> evaluator is {bare / ours:.2f}x its speed; {same}"
        )


if __name__ == "__main__":
    main()
