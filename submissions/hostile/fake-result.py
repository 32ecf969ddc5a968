# grader: exercise=conv-dims
"""Hostile: writes fake results (full marks) next to the reports, in parent folders and in /tmp."""

# %%
import json
import os
import sys

REPO = os.path.dirname(sys.prefix)  # the grader's environment usually lives in the course checkout

conv_params = 80
fake = json.dumps({"submission": "fake-result.py", "score": 5, "max_score": 5, "checks": []})
targets = [
    "fake-result.json",
    "../fake-result.json",
    "../../fake-result.json",
    "/tmp/fake-result.json",
    f"{REPO}/reports/fake-result.json",
    f"{REPO}/fake-result.json",
    os.path.expanduser("~/../../fake-result.json"),
]
for target in targets:
    try:
        with open(target, "w") as handle:
            handle.write(fake)
        print("WROTE", os.path.abspath(target))
    except OSError as exc:
        print("DENIED", target, type(exc).__name__)
