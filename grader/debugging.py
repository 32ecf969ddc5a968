"""Looking inside a grade when something goes wrong: `--debug` and `--keep-workdir`.

Silent by default: the package's loggers write nothing unless `--debug` turns them on (to
stderr, at DEBUG). `--debug` also prints the grader's full traceback on an internal error and
keeps the kernel's folder (its log among it); `--keep-workdir` keeps the kernel's folder (the
working folder as the student's code left it, the artifacts, the kernel's log) and the report
says where. Both are set once per process by the command line, before anything is graded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logging.getLogger("grader").addHandler(logging.NullHandler())


@dataclass
class DebugSettings:
    debug: bool = False
    keep_workdir: bool = False


settings = DebugSettings()


def configure(*, debug: bool = False, keep_workdir: bool = False) -> None:
    settings.debug = debug
    settings.keep_workdir = keep_workdir or debug
    if debug:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger = logging.getLogger("grader")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
