"""The one Jinja environment every HTML page is rendered with (reports, fragments, the class index).

Autoescaped, always: every message can quote what a student's notebook holds, so no page may
render a string as markup. Pages add the filters only they use.
"""

from __future__ import annotations

import threading
from types import CodeType

from jinja2 import BaseLoader, Environment, PackageLoader, select_autoescape
from jinja2.bccache import Bucket, BytecodeCache

STATUS_MARK = {"pass": "✔", "fail": "✘", "error": "!", "skipped": "–"}
"""How a check's status is marked, in every page and on the terminal."""


class _CompiledTemplates(BytecodeCache):
    """Each template compiled once per process, shared by every environment `environment` makes.

    Compiling a page's template takes a tenth of a second, and a batch writes several pages per
    student; every environment here has the same settings, so the code one compiled is the code
    another would. Keyed by the template's name and its source's checksum: an edited template is
    compiled again. Only code is shared: each call still gets an environment of its own, so the
    filters a page adds reach no other page. (Jinja resolves a filter by name when the page renders,
    but decides at compile time whether it takes the context: a filter that does must have that
    kind in every environment that renders its template.)
    """

    def __init__(self) -> None:
        self._code: dict[tuple[str, str], CodeType] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            bucket.code = self._code.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            with self._lock:
                self._code[(bucket.key, bucket.checksum)] = bucket.code


_COMPILED = _CompiledTemplates()
_LOADER: BaseLoader = PackageLoader("grader.render", "templates")


def environment() -> Environment:
    """A new autoescaped environment (its own filters), whose templates are compiled once per process."""
    env = Environment(
        loader=_LOADER,
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_COMPILED,
    )
    env.filters["pts"] = lambda v: f"{v:g}"
    return env
