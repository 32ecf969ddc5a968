"""Kernel side: a GPU memory cap for this kernel, set before the student's first cell.

Several kernels share one GPU (`grade batch --kernels-per-gpu N`); TensorFlow would otherwise
take nearly all of the card's memory for the first kernel that touches it. The cap is a logical
device of `memory_mb` per visible GPU, which TensorFlow only accepts before its GPU runtime
starts, so it is set first, before Keras is seeded. It binds TensorFlow in this kernel; a process
the student starts afresh would have to set its own (a hard per-process limit needs MPS or MIG).
"""

from __future__ import annotations

from .records import note_training


def cap_memory(memory_mb: int | None) -> None:
    """Limit every visible GPU to `memory_mb` for this process (no-op without a GPU or a cap)."""
    if not memory_mb:
        return
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.set_logical_device_configuration(
            gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(memory_mb))]
        )
    if gpus:
        note_training("gpu_capped", f"each GPU limited to {memory_mb} MB for this kernel")
