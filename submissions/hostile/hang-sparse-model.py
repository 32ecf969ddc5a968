# grader: exercise=conv-dims
# old (ca38eb9): the 1.5 GiB file accepted and loaded, 5/5: no size limit, no refusal
"""Adversarial (hang): the model file, a valid archive at the end of 1.5 GiB of sparse zeros.

The hook moves the probe's .keras archive to the end of a sparse file: the zip format finds its
central directory from the end (the offsets are adjusted, as for a self-extracting archive), so
the file still loads, but it is 1.5 GiB long while using a few kilobytes of disk. The test runs
it with --disk-mb 2048 (the per-file size limit would stop it otherwise).
"""

# %%
import json
import os
import zipfile

from keras.layers import Conv2D
from keras.models import Sequential

model = Sequential([Conv2D(16, 2, strides=2, padding="valid", activation="relu", input_shape=(200, 200, 1))])
conv_params = 80
conv_height = 100


# %%
def _facts_files():
    """Every facts.json under the writable bind mount named `artifacts` (see /proc/self/mountinfo)."""
    with open("/proc/self/mountinfo") as mounts:
        tops = [line.split()[4] for line in mounts if line.split()[4].endswith("/artifacts")]
    return [os.path.join(folder, "facts.json") for top in tops for folder, _, files in os.walk(top) if "facts.json" in files]


def _after_probe(result):
    for path in _facts_files():
        folder = os.path.dirname(path)
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            if entry.get("file"):
                target = os.path.join(folder, entry["file"])
                with zipfile.ZipFile(target) as archive:
                    members = {name: archive.read(name) for name in archive.namelist()}
                with open(target, "wb") as handle:
                    handle.truncate(3 * 2**29)
                    handle.seek(3 * 2**29)
                    with zipfile.ZipFile(handle, "a") as archive:  # appended after the zeros
                        for name, data in members.items():
                            archive.writestr(name, data)


get_ipython().events.register("post_run_cell", _after_probe)
