# grader: exercise=conv-dims
"""Hostile: looks for the rubric, the hidden data, other submissions and the reports, and prints them."""

# %%
import glob
import os
import sys

REPO = os.path.dirname(sys.prefix)  # the grader's environment usually lives in the course checkout

conv_params = 80
SKIP = ("/proc", "/sys", "/dev", "/usr")
found = []
for top in ("/", os.path.expanduser("~"), os.path.dirname(os.getcwd())):
    for folder, subfolders, files in os.walk(top):
        if folder.startswith(SKIP) or "site-packages" in folder:
            subfolders[:] = []
            continue
        found += [os.path.join(folder, f) for f in files if f.endswith((".yaml", ".yml", ".npz", ".json", ".ipynb", ".html"))]
print("FOUND", sorted(set(found)))
print("WORK", sorted(os.listdir(REPO)) if os.path.isdir(REPO) else "absent")
for path in [f"{REPO}/rubrics/conv-dims.yaml", *glob.glob(f"{REPO}/rubrics/**", recursive=True)]:
    try:
        with open(path) as handle:
            print("READ", path, handle.read()[:200])
    except OSError as exc:
        print("DENIED", path, type(exc).__name__)
