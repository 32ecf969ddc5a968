"""What it costs to load and measure models in the sandboxed inspector instead of in the grader's process.

For a few models (the lesson's conv-dims layer, the CIFAR-10 CNN, a functional model with raw
operations, and a larger nested model), prints:
- the graph walk alone (`measure.measure` on a loaded model), in-process, in ms;
- loading plus measuring in-process (what the grader did before the inspector), in ms;
- one `measure` request to a warm inspector (load, walk, JSON over the socket), in ms;
- one `predict` request on 1,000 CIFAR-sized inputs, in ms;
- the inspector's start-up (a sandbox and a TensorFlow import), in s.

Run: .venv/bin/python benchmarks/inspector_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.grading import datasets, inspector
from grader.grading.artifacts import ModelFile
from grader.inside.inspector import measure
from grader.sandbox import bwrap


def models(keras: Any) -> dict[str, Any]:
    layers = keras.layers
    conv = keras.Sequential([keras.Input((200, 200, 1)), layers.Conv2D(16, 2, strides=2, activation="relu")])
    cifar = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ]
    )
    inputs = keras.Input((32, 32, 3))
    visible = layers.Dense(10, activation="softmax")(layers.Flatten()(inputs))
    table = np.random.default_rng(0).random((3072, 10)).astype("float32")
    hidden = keras.ops.softmax(keras.ops.matmul(keras.ops.reshape(inputs, (-1, 3072)), table))
    ops = keras.Model(inputs, keras.ops.add(keras.ops.multiply(visible, 0.0), hidden))
    base = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(96, 96, 3), alpha=0.35
    )
    nested = keras.Sequential(
        [keras.Input((96, 96, 3)), base, layers.GlobalAveragePooling2D(), layers.Dense(10)]
    )
    return {"conv-dims": conv, "cifar10-cnn": cifar, "raw-ops": ops, "mobilenet-nested": nested}


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return 1000 * statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    keras = measure.keras_module()
    sandboxed = bwrap.bwrap_problem() is None
    inputs = datasets.Dataset(
        x=np.random.default_rng(1).random((1000, 32, 32, 3)).astype(np.float32),
        y=np.arange(1000) % 10,
        source="random",
    )
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        inspecting = inspector.Inspector(inspector.InspectorSettings(sandboxed=sandboxed))
        inspecting.start()
        files = {}
        for name, model in models(keras).items():
            path = Path(folder) / f"{name}.keras"
            model.save(path)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[name] = ModelFile(variable=name, path=path, sha256=digest, size=path.stat().st_size)
        first = next(iter(files.values()))
        inspecting.measure(first)
        startup = time.perf_counter() - began
        print(f"inspector start-up (sandboxed={sandboxed}, overlapping model building here): {startup:.2f} s")
        print(
            f"{'model':<18}{'nodes':>6}{'params':>10}{'walk ms':>9}{'load+walk':>11}{'inspector':>11}{'predict':>9}"
        )
        for name, file in files.items():
            loaded = measure.load_model(file.path)
            walk_ms, facts = timed(
                lambda loaded=loaded, name=name: measure.measure(loaded, name), args.repeats
            )
            local_ms, _ = timed(
                lambda file=file, name=name: measure.measure(measure.load_model(file.path), name),
                args.repeats,
            )
            remote = []
            for repeat in range(args.repeats):
                fresh = ModelFile(file.variable, file.path, f"{file.sha256[:-8]}{repeat:08d}", file.size)
                began = time.perf_counter()
                inspecting.measure(fresh)
                remote.append(1000 * (time.perf_counter() - began))
            predict_ms = float("nan")
            if facts.input_shape == (32, 32, 3):
                predict_ms, _ = timed(
                    lambda file=file: inspecting.predict(file, datasets.inputs_file(inputs), 10, 256),
                    args.repeats,
                )
            print(
                f"{name:<18}{len(facts.layers):>6}{facts.total_params:>10,}{walk_ms:>9.1f}{local_ms:>11.1f}"
                f"{statistics.median(remote):>11.1f}{predict_ms:>9.1f}"
            )
        inspecting.close()


if __name__ == "__main__":
    main()
