# grader: exercise=conv-dims
"""Hostile: fills the disk: one huge file, then /tmp, then many files in the working folder."""

# %%
import os

conv_params = 80
chunk = b"d" * (1024 * 1024)
for target in ("huge.bin", "/tmp/huge.bin"):
    try:
        with open(target, "wb") as handle:
            for _ in range(1024):
                handle.write(chunk)
        print("WROTE", target)
    except OSError as exc:
        print("STOPPED", target, exc.strerror)
    os.remove(target)

# %%
conv_height = 100
for number in range(200):
    with open(f"part-{number}.bin", "wb") as handle:
        handle.write(chunk * 4)
