"""Framework noise: what TensorFlow and Keras write to stderr on their own account.

TensorFlow's C++ logs (`I0000 00:00:...  cpu_feature_guard.cc ...`), absl's preamble and the
warnings Keras raises from its own files say nothing about the student's work. They are split
from the student's stderr so that they never count against the output limit or clutter the
report, which folds them away.
"""

from __future__ import annotations

import re

NOISE_LINE = re.compile(
    r"""^(
        [IWEF]\d{4}\ [\d:.]+\s+\d+\ \S+:\d+\]                     # absl / TF C++ log line
      | \d{4}-\d\d-\d\d\ \d\d:\d\d:\d\d\.\d+:\ [IWEF]\ \S+:\d+\]   # older TF C++ log line
      | WARNING:\ All\ log\ messages\ before\ absl::InitializeLog   # absl preamble
      | To\ enable\ the\ following\ instructions:                  # cpu_feature_guard, second line
      | .*/site-packages/(keras|tensorflow|absl|h5py|numpy|ml_dtypes|google)/\S+:\d+:\ \w*Warning:.*
      | <grader_kernel\.\w+>:\d+:\ \w*Warning:.*                       # a framework warning raised through the layer
    )""",
    re.VERBOSE,
)
WARNING_SOURCE_LINE = re.compile(r"^\s{2,}\S")


def split_noise(text: str) -> tuple[str, str]:
    """(what the student should see, the framework's noise) for one stretch of stderr."""
    kept: list[str] = []
    noise: list[str] = []
    in_warning = False
    for line in text.splitlines(keepends=True):
        if NOISE_LINE.match(line):
            noise.append(line)
            in_warning = "Warning:" in line
        elif in_warning and WARNING_SOURCE_LINE.match(line):
            noise.append(line)
        else:
            kept.append(line)
            in_warning = False
    return "".join(kept), "".join(noise)


def is_noise(text: str) -> bool:
    """True when every line of `text` is framework noise (and there is at least one)."""
    kept, noise = split_noise(text)
    return bool(noise) and not kept.strip()
