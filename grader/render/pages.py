"""The one Jinja environment every HTML page is rendered with (reports, fragments, the class index).

Autoescaped, always: every message can quote what a student's notebook holds, so no page may
render a string as markup. Pages add the filters only they use.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

STATUS_MARK = {"pass": "✔", "fail": "✘", "error": "!", "skipped": "–"}
"""How a check's status is marked, in every page and on the terminal."""


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("grader.render", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pts"] = lambda v: f"{v:g}"
    return env
