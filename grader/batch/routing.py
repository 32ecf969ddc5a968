"""Which rubric grades each submission of a batch that mixes exercises.

Real course notebooks rarely carry `grader.exercise`, so a class of several exercises is sorted by
where each file is. The order, first that decides wins:

1. `--rubric R`: the one rubric of the whole batch (it cannot be given with `--rubric-for`, which
   it would silently override);
2. `--rubric-for 'PATTERN=RUBRIC'`: the instructor's mapping for this batch, over anything in
   the files (including what a student wrote in their notebook's metadata);
3. the exercise the submission names (notebook metadata `grader.exercise`, a `# grader:
   exercise=ID` line), looked up in `--rubrics`: specific to that one file;
4. the `match:` globs of the rubrics in `--rubrics`: the course's standing default.

A submission that two patterns (or two rubrics' `match:`) claim for different rubrics, or that
nothing claims, is that student's error row naming the submission and the candidates: a batch
never guesses and never skips a file silently. Globs are matched by `grader.rubric.globs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from grader.errors import GradingError, RubricError
from grader.grading.grade import resolve_rubric
from grader.grading.submission import Submission
from grader.rubric.globs import check_glob, glob_matches, shown_path
from grader.rubric.model import LoadedRubric, find_rubrics, load_rubric

RUBRIC_SUFFIXES = (".yaml", ".yml")


class RubricFor(BaseModel):
    """One `--rubric-for PATTERN=RUBRIC`: submissions whose relative path matches PATTERN get RUBRIC.

    RUBRIC is a path when it has a `/` or ends in .yaml/.yml, otherwise an exercise id looked up
    in `--rubrics`.
    """

    model_config = ConfigDict(frozen=True)

    pattern: str
    rubric: str

    @classmethod
    def parse(cls, text: str) -> RubricFor:
        """`PATTERN=RUBRIC`, split at the last `=` (an exercise id never holds one); ValueError if malformed."""
        pattern, equals, rubric = text.rpartition("=")
        if not equals or not pattern or not rubric.strip():
            raise ValueError(f"{text!r}: expected PATTERN=RUBRIC, e.g. 'week3/*=conv-dims'")
        return cls(pattern=check_glob(pattern), rubric=rubric.strip())

    def rubric_path(self, rubrics_dir: Path) -> Path:
        """The rubric file this names; a `RubricError` for an exercise id `rubrics_dir` lacks."""
        if "/" in self.rubric or self.rubric.endswith(RUBRIC_SUFFIXES):
            return Path(self.rubric)
        found = find_rubrics(rubrics_dir)
        if self.rubric not in found:
            raise RubricError(
                f"--rubric-for '{self.pattern}={self.rubric}': no rubric {self.rubric!r} in {rubrics_dir}",
                hint=f"name a rubric file or an exercise id; rubrics found: {', '.join(found) or 'none'}",
            )
        return found[self.rubric]


@dataclass(frozen=True)
class Candidate:
    """A rubric that claims a submission, and why (for the message when more than one does)."""

    loaded: LoadedRubric
    why: str

    def describe(self) -> str:
        return f"{self.loaded.path} ({self.why})"


@dataclass(frozen=True)
class Router:
    """The rubrics of one batch, loaded once: `choose` picks a submission's, or says why it cannot."""

    fixed: LoadedRubric | None
    explicit: tuple[tuple[str, LoadedRubric], ...]
    folder: tuple[LoadedRubric, ...]
    unreadable: tuple[str, ...]
    rubrics_dir: Path

    @classmethod
    def load(cls, rubric_path: Path | None, rubric_for: Sequence[RubricFor], rubrics_dir: Path) -> Router:
        """Load `--rubric` and every `--rubric-for` rubric (a `RubricError` stops the batch: the instructor's
        mistake), and the rubrics of `--rubrics` that have `match:` (one that does not load is only noted)."""
        if rubric_path is not None and rubric_for:
            raise RubricError(
                "--rubric grades every submission with one rubric, so --rubric-for would never apply",
                hint="drop --rubric, or drop --rubric-for",
            )
        if rubric_path is not None:
            return cls(load_rubric(rubric_path), (), (), (), rubrics_dir)
        loaded: dict[Path, LoadedRubric] = {}
        explicit = []
        for rule in rubric_for:
            path = rule.rubric_path(rubrics_dir)
            loaded[path] = loaded.get(path) or load_rubric(path)
            explicit.append((rule.pattern, loaded[path]))
        folder: list[LoadedRubric] = []
        unreadable: list[str] = []
        for path in find_rubrics(rubrics_dir).values():
            try:
                rubric = load_rubric(path)
            except GradingError as exc:
                unreadable.append(f"{path} ({exc.message.splitlines()[0]})")
                continue
            if rubric.rubric.match:
                folder.append(rubric)
        return cls(None, tuple(explicit), tuple(folder), tuple(unreadable), rubrics_dir)

    def choose(self, submission: Submission, relative: tuple[str, ...]) -> LoadedRubric:
        """The rubric for `submission` found at `relative` (its path from the batch's root), in the
        order of the module's docstring; a `RubricError` naming it and the candidates otherwise."""
        if self.fixed is not None:
            return self.fixed
        shown = shown_path(relative)
        claims = [
            Candidate(rubric, f"--rubric-for '{pattern}'")
            for pattern, rubric in self.explicit
            if glob_matches(pattern, relative)
        ]
        if claims:
            return _only(
                claims, shown, "--rubric-for patterns", "make the patterns exclusive (e.g. a folder each)"
            )
        if submission.exercise is not None:
            return resolve_rubric(submission, None, self.rubrics_dir)
        claims = [
            Candidate(rubric, f"match: '{glob}'")
            for rubric in self.folder
            for glob in (rubric.rubric.match or ())
            if glob_matches(glob, relative)
        ]
        if claims:
            return _only(
                claims,
                shown,
                "rubrics' `match:`",
                "make the globs exclusive, or add a --rubric-for that decides",
            )
        raise RubricError(
            f"{shown}: which rubric? the submission names no exercise "
            f"({'notebook metadata `grader.exercise`' if submission.kind == 'notebook' else 'a `# grader: exercise=ID` line'})"
            f", and matches no --rubric-for pattern and no `match:` of a rubric in {self.rubrics_dir}; "
            f"candidates: {self._candidates()}",
            hint="add a --rubric-for 'PATTERN=RUBRIC' (or a rubric's `match:`) that covers it, or pass --rubric",
        )

    def _candidates(self) -> str:
        rules = [f"--rubric-for '{pattern}={rubric.path}'" for pattern, rubric in self.explicit]
        globs = [f"{rubric.path} (match: {', '.join(rubric.rubric.match or ())})" for rubric in self.folder]
        broken = [f"{entry}, which does not load" for entry in self.unreadable]
        return "; ".join(rules + globs + broken) or f"no rubric in {self.rubrics_dir} has `match:`"


def _only(claims: list[Candidate], shown: str, what: str, fix: str) -> LoadedRubric:
    """The one rubric the claims agree on; a `RubricError` listing them when they name two or more."""
    rubrics = {claim.loaded.path.resolve() for claim in claims}
    if len(rubrics) == 1:
        return claims[0].loaded
    raise RubricError(
        f"{shown}: matches {len(rubrics)} rubrics by {what}, so it is not graded against any of them: "
        + "; ".join(claim.describe() for claim in claims),
        hint=fix,
    )
