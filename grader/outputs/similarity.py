"""Similarity flags: pairs of submissions of one exercise that a person should look at side by side.

These are flags, not verdicts. Students of one exercise write similar code, and the same code run
with the same seed produces the same weights and the same training history. So the grader seeds
each submission's kernel from its own identity (`grader.grading.prelude.submission_seed`), and a
weight or history flag is raised only where no seed explains it (`seed_explains`): not where both
notebooks seed themselves, nor where both kernels had the same seed. The flags also set aside what
the class shares (the starter notebook, and code, weights or histories that more than half of a
class of at least `MIN_CLASS_FOR_COMMON` has, or is close to) and ask for enough code of a pair's
own before they say anything. What remains is a short list to read, not a list of cheaters.

Five kinds, each with a score (1.0 for the identical kinds):

- `weights-identical`: the same sha256 over every weight of a model the notebook trained (or loaded
  from a checkpoint), where no shared seed explains it. An untrained model is skipped.
- `weights-similar`: trained models of the same architecture (layer types and parameter counts)
  whose weight sketches (a fixed random projection) have a cosine similarity of at least
  `WEIGHTS_COSINE_MIN`, where no shared seed explains it.
- `history-identical`: exactly the same training history (every metric, every epoch), with at
  least `MIN_HISTORY_EPOCHS` epochs, where no shared seed explains it.
- `code-identical`: the same code on the normalised syntax tree (`normalise_code`: the student's
  names, import aliases, comments, docstrings, layout and the order of cells undone), starter
  lines set aside.
- `code-similar`: at least `CODE_JACCARD_MIN` of the pair's `SHINGLE_TOKENS`-token shingles
  shared (Jaccard), over the normalised code of their own with every student name as `_`
  (starter lines and lines most of the class shares set aside).

The hashing kinds bucket by hash, linear in the class; the near-identical kinds compare pairs within
an exercise (weights within an architecture), fine up to a few hundred students.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import io
import json
import keyword
import re
import tokenize
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from grader.inside.inspector.facts import ModelFacts
from grader.result import GradeResult

SimilarityKind = Literal[
    "weights-identical", "weights-similar", "history-identical", "code-identical", "code-similar"
]
KIND_ORDER: tuple[SimilarityKind, ...] = (
    "code-identical",
    "weights-identical",
    "history-identical",
    "code-similar",
    "weights-similar",
)
WEIGHTS_COSINE_MIN = 0.995
CODE_JACCARD_MIN = 0.75
SHINGLE_TOKENS = 5
MIN_OWN_TOKENS = 20
MIN_HISTORY_EPOCHS = 2
COMMON_SHARE = 0.5
MIN_CLASS_FOR_COMMON = 6
TRAINING_EVENTS = ("trained", "checkpoint_loaded")

CANONICAL_NAME = "_v{}_"
CANONICAL_NAME_RE = re.compile(r"\b_v[0-9a-f]{8}_\b")
MARKER = "\x00{}\x00"
MARKER_RE = re.compile("\x00\\d+\x00")
SELF_SEED_RE = re.compile(r"\b(?:set_random_seed|set_seed|random\.seed)\(")
"""A notebook that seeds its own generators (`keras.utils.set_random_seed`, `tf.random.set_seed`,
`numpy.random.seed`, `random.seed`), read on normalised code so that a comment does not count."""
KERAS_PATH_RE = re.compile(r"\b(?:tensorflow\.keras|tf_keras)\b")
"""Keras however it is reached: `tensorflow.keras.layers.Dense` is `keras.layers.Dense`."""
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
MAGIC_LINE_RE = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class SimilarPair:
    """Two students (in name order) whose submissions look alike in one way, how much, and why."""

    student_a: str
    student_b: str
    kind: SimilarityKind
    score: float
    detail: str


@dataclass(frozen=True)
class NormalisedCode:
    """A notebook's code, one statement per line, with the student's names renamed.

    `lines` keeps the canonical names (`_v1_`, `_v2_`, ... in order of first appearance), so two
    notebooks that differ only in names, comments and layout have the same lines; `anonymous` is
    the same lines with every student name as `_`, to recognise a starter line or a line the class
    shares whatever names each student gave it.
    """

    lines: tuple[str, ...]
    anonymous: tuple[str, ...]


def find_similar(
    students: Sequence[tuple[str, GradeResult]], starters: Mapping[str, Sequence[str]] | None = None
) -> tuple[SimilarPair, ...]:
    """Every flagged pair among graded students, compared within each exercise.

    `starters` maps an exercise id to the cell sources of its starter notebook, whose lines every
    student was handed and which therefore say nothing about copying.
    """
    by_exercise: dict[str, list[tuple[str, GradeResult]]] = defaultdict(list)
    for stem, result in students:
        by_exercise[result.exercise].append((stem, result))
    pairs: list[SimilarPair] = []
    for exercise, group in by_exercise.items():
        pairs += weight_pairs(group)
        pairs += history_pairs(group)
        pairs += code_pairs(group, (starters or {}).get(exercise, ()))
    return tuple(sorted(pairs, key=lambda p: (KIND_ORDER.index(p.kind), -p.score, p.student_a, p.student_b)))


def _common(values_per_student: Iterable[Iterable[Hashable]], class_size: int) -> set[Hashable]:
    """What more than half of a class (of at least MIN_CLASS_FOR_COMMON) has: the exercise's, not a pair's."""
    if class_size < MIN_CLASS_FOR_COMMON:
        return set()
    counts: Counter[Hashable] = Counter()
    for values in values_per_student:
        counts.update(set(values))
    return {value for value, count in counts.items() if count > COMMON_SHARE * class_size}


def _sharing(keys: Mapping[str, Hashable]) -> Iterator[tuple[str, str, Hashable]]:
    """Pairs of students with the same key, found through buckets (linear in the class)."""
    buckets: dict[Hashable, list[str]] = defaultdict(list)
    for stem, key in keys.items():
        buckets[key].append(stem)
    for key, stems in buckets.items():
        for a, b in combinations(sorted(stems), 2):
            yield a, b, key


# --- weights ------------------------------------------------------------------------------------


def was_trained(result: GradeResult) -> bool:
    """The notebook trained its model (a history, or a fit the kernel recorded) or loaded a checkpoint."""
    for check in result.checks:
        if check.metrics is not None and check.metrics.history and any(check.metrics.history.values()):
            return True
    setup = result.kernel_setup
    return setup is not None and any(event.event in TRAINING_EVENTS for event in setup.training)


@dataclass(frozen=True)
class Seeding:
    """Where a run's random numbers came from: what can make two honest runs train alike.

    `kernel` is the seed the grader gave the kernel (None where the result does not say), `own`
    whether the notebook seeds the generators itself, `checkpoint` whether its weights were loaded
    from a submitted checkpoint rather than trained.
    """

    kernel: int | None
    own: bool
    checkpoint: bool


def seeding(result: GradeResult) -> Seeding:
    setup = result.kernel_setup
    own = any(SELF_SEED_RE.search(line) for line in _normalised(_sources(result)).lines)
    loaded = setup is not None and any(event.event == "checkpoint_loaded" for event in setup.training)
    return Seeding(kernel=setup.seed if setup is not None else None, own=own, checkpoint=loaded)


def seed_explains(first: Seeding, second: Seeding) -> bool:
    """Independent training could give the two runs the same numbers, so their sameness is no evidence.

    It could where the same seed drove both: each notebook seeds itself (the lesson's
    `keras.utils.set_random_seed(0)`), or the grader gave both kernels the same seed (results
    graded before each submission had a seed of its own, or whose seed was not recorded). Weights
    loaded from a checkpoint are never explained by a seed.
    """
    if first.checkpoint or second.checkpoint:
        return False
    same_kernel_seed = first.kernel is None or second.kernel is None or first.kernel == second.kernel
    return (first.own and second.own) or same_kernel_seed


def architecture(model: ModelFacts) -> tuple[tuple[str, int], ...]:
    """Layer types and parameter counts, in graph order: models whose weights can be compared."""
    return tuple((layer.type, layer.params) for layer in model.layers)


def weight_pairs(group: Sequence[tuple[str, GradeResult]]) -> list[SimilarPair]:
    trained: dict[str, ModelFacts] = {
        stem: result.model
        for stem, result in group
        if result.model is not None and result.model.total_params > 0 and was_trained(result)
    }
    seeds = {stem: seeding(result) for stem, result in group if stem in trained}
    hashes = {stem: model.weights_sha256 for stem, model in trained.items() if model.weights_sha256}
    shared = _common(([digest] for digest in hashes.values()), len(group))
    pairs = []
    identical: set[tuple[str, str]] = set()
    for a, b, digest in _sharing({stem: digest for stem, digest in hashes.items() if digest not in shared}):
        identical.add((a, b))
        if seed_explains(seeds[a], seeds[b]):
            continue
        detail = f"the same {trained[a].total_params:,} trained weights (sha256 {str(digest)[:12]}…)"
        pairs.append(SimilarPair(a, b, "weights-identical", 1.0, detail))
    by_architecture: dict[tuple[tuple[str, int], ...], dict[str, tuple[float, ...]]] = defaultdict(dict)
    for stem, model in trained.items():
        if model.weights_sketch:
            by_architecture[architecture(model)][stem] = model.weights_sketch
    for layers, sketches in by_architecture.items():
        summary = ", ".join(f"{kind} {params:,}" for kind, params in layers if params)
        close = list(_close_sketches(sketches))
        typical = _typical(close, len(group))
        for a, b, cosine in close:
            explained = seed_explains(seeds[a], seeds[b])
            if (a, b) not in identical and a not in typical and b not in typical and not explained:
                detail = f"weight sketches {cosine:.4f} alike (cosine), same architecture: {summary}"
                pairs.append(SimilarPair(a, b, "weights-similar", cosine, detail))
    return pairs


def _typical(close: Sequence[tuple[str, str, float]], class_size: int) -> set[str]:
    """Models close to more than half of a class (with themselves): what the exercise and its seed produce."""
    if class_size < MIN_CLASS_FOR_COMMON:
        return set()
    neighbours = Counter(stem for a, b, _ in close for stem in (a, b))
    return {stem for stem, count in neighbours.items() if count + 1 > COMMON_SHARE * class_size}


def _close_sketches(sketches: Mapping[str, tuple[float, ...]]) -> Iterator[tuple[str, str, float]]:
    """Pairs whose sketches have a cosine of at least WEIGHTS_COSINE_MIN (one matrix product per architecture)."""
    import numpy as np

    by_length: dict[int, list[str]] = defaultdict(list)
    for stem, sketch in sketches.items():
        by_length[len(sketch)].append(stem)
    for stems in by_length.values():
        if len(stems) < 2:
            continue
        stems = sorted(stems)
        matrix = np.asarray([sketches[s] for s in stems], dtype=np.float64)
        norms = np.linalg.norm(matrix, axis=1)
        usable = np.isfinite(matrix).all(axis=1) & (norms > 0)
        unit = np.where(usable[:, None], matrix / np.where(norms > 0, norms, 1)[:, None], 0.0)
        cosines = unit @ unit.T
        for i, j in zip(*np.nonzero(np.triu(cosines >= WEIGHTS_COSINE_MIN, k=1)), strict=True):
            if usable[i] and usable[j]:
                yield stems[i], stems[j], round(float(min(1.0, cosines[i, j])), 6)


# --- training histories ---------------------------------------------------------------------------


def training_history(result: GradeResult) -> dict[str, tuple[float | None, ...]] | None:
    """The notebook's `fit` history as the accuracy check recorded it, when it has at least two epochs."""
    for check in result.checks:
        history = check.metrics.history if check.metrics is not None else None
        if history and max(len(series) for series in history.values()) >= MIN_HISTORY_EPOCHS:
            return history
    return None


def history_pairs(group: Sequence[tuple[str, GradeResult]]) -> list[SimilarPair]:
    histories = {stem: h for stem, result in group if (h := training_history(result)) is not None}
    seeds = {stem: seeding(result) for stem, result in group if stem in histories}
    keys = {stem: json.dumps(h, sort_keys=True) for stem, h in histories.items()}
    shared = _common(([k] for k in keys.values()), len(group))
    pairs = []
    for a, b, _ in _sharing({s: k for s, k in keys.items() if k not in shared}):
        if seed_explains(seeds[a], seeds[b]):
            continue
        history = histories[a]
        epochs = max(len(series) for series in history.values())
        metrics = ", ".join(sorted(history))
        pairs.append(
            SimilarPair(
                a, b, "history-identical", 1.0, f"the same {epochs}-epoch training history ({metrics})"
            )
        )
    return pairs


# --- code -----------------------------------------------------------------------------------------


def code_pairs(
    group: Sequence[tuple[str, GradeResult]], starter_sources: Sequence[str] = ()
) -> list[SimilarPair]:
    codes = {stem: _normalised(_sources(result)) for stem, result in group}
    starter = set(normalise_code(starter_sources).anonymous) if starter_sources else set()
    common = _common((code.anonymous for code in codes.values()), len(group))
    without_starter = {
        stem: tuple(
            line for line, anon in zip(code.lines, code.anonymous, strict=True) if anon not in starter
        )
        for stem, code in codes.items()
    }
    own_tokens = {
        stem: code_tokens(anon for anon in code.anonymous if anon not in starter and anon not in common)
        for stem, code in codes.items()
    }
    eligible = sorted(stem for stem, tokens in own_tokens.items() if len(tokens) >= MIN_OWN_TOKENS)
    pairs = []
    identical: set[tuple[str, str]] = set()
    for a, b, _ in _sharing({stem: without_starter[stem] for stem in eligible}):
        identical.add((a, b))
        pairs.append(
            SimilarPair(
                a,
                b,
                "code-identical",
                1.0,
                f"the same code once names, import aliases, comments, layout and cell order are normalised "
                f"({min(len(own_tokens[a]), len(own_tokens[b]))} tokens beyond the starter and the lines "
                "most of the class shares)",
            )
        )
    shingled = {stem: shingles(own_tokens[stem]) for stem in eligible}
    for a, b in combinations(eligible, 2):
        if (a, b) in identical:
            continue
        first, second = shingled[a], shingled[b]
        if min(len(first), len(second)) < CODE_JACCARD_MIN * max(len(first), len(second)):
            continue  # too different in size to reach the threshold
        jaccard = len(first & second) / len(first | second)
        if jaccard >= CODE_JACCARD_MIN:
            pairs.append(
                SimilarPair(
                    a,
                    b,
                    "code-similar",
                    round(jaccard, 4),
                    f"{jaccard:.0%} of their {SHINGLE_TOKENS}-token sequences shared "
                    f"({len(own_tokens[a])} and {len(own_tokens[b])} tokens of their own code)",
                )
            )
    return pairs


def _sources(result: GradeResult) -> tuple[str, ...]:
    return tuple(cell.source for cell in result.run.cells)


@functools.lru_cache(maxsize=4096)
def _normalised(sources: tuple[str, ...]) -> NormalisedCode:
    """`normalise_code`, once per notebook: the weight, history and code flags all read it."""
    return normalise_code(sources)


def code_tokens(lines: Iterable[str]) -> tuple[str, ...]:
    return tuple(token for line in lines for token in TOKEN_RE.findall(line))


def shingles(tokens: Sequence[str]) -> frozenset[tuple[str, ...]]:
    """Every run of SHINGLE_TOKENS consecutive tokens (the whole sequence when it is shorter)."""
    if len(tokens) <= SHINGLE_TOKENS:
        return frozenset([tuple(tokens)])
    return frozenset(tuple(tokens[i : i + SHINGLE_TOKENS]) for i in range(len(tokens) - SHINGLE_TOKENS + 1))


def normalise_code(sources: Sequence[str]) -> NormalisedCode:
    """Cells as canonical statements: the student's names and aliases, comments, layout and cell order gone.

    The disguises that cost a copier nothing and change no behaviour are undone on the syntax tree:

    - every name the student binds (assignment and loop targets, functions, classes, parameters,
      `except ... as`, `global`) becomes `_v<hash>_`, the hash of the statements it appears in
      (`_variable_names`), so neither renaming nor moving code changes it;
    - every imported name becomes the dotted path it stands for (`import keras as K` then
      `K.layers.Dense` reads `keras.layers.Dense`, as does `from keras.layers import Dense as D`
      then `D`; `tensorflow.keras` reads `keras`), and the imports themselves go;
    - comments, docstrings and other bare strings disappear and `ast.unparse` fixes the layout;
    - the cells are put in a canonical order (sorted by their text with every student name as `_`).

    Cells that do not parse are normalised token by token instead.
    """
    cleaned = [
        "\n".join("" if MAGIC_LINE_RE.match(line) else line for line in s.splitlines()) for s in sources
    ]
    trees = [_parse(source) for source in cleaned]
    aliases = _import_aliases(tree for tree in trees if tree is not None)
    definitions = _Definitions(set(aliases))
    for index, (source, tree) in enumerate(zip(cleaned, trees, strict=True)):
        if tree is not None:
            try:
                definitions.visit(tree)
                continue
            except RecursionError:  # an expression nested deeper than Python's stack: tokens will do
                trees[index] = None
        definitions.names.extend(_token_definitions(source, set(aliases)))
    markers: dict[str, str] = {}
    for name in definitions.names:
        markers.setdefault(name, MARKER.format(len(markers)))
    cells: list[list[str]] = []
    for source, tree in zip(cleaned, trees, strict=True):
        statements = _unparse(tree, markers, aliases, definitions.parameters) if tree is not None else None
        if statements is None:
            statements = _token_lines(source, {**aliases, **markers})
        cells.append([KERAS_PATH_RE.sub("keras", text) for text in statements if text.strip()])
    cells.sort(key=lambda statements: [MARKER_RE.sub("_", text) for text in statements])
    names = _variable_names([text for statements in cells for text in statements])
    lines = [
        line.rstrip()
        for statements in cells
        for text in statements
        for line in MARKER_RE.sub(lambda m: names.get(m.group(0), "_"), text).splitlines()
        if line.strip()
    ]
    return NormalisedCode(
        lines=tuple(lines), anonymous=tuple(CANONICAL_NAME_RE.sub("_", line) for line in lines)
    )


def _variable_names(statements: Sequence[str]) -> dict[str, str]:
    """A canonical name for each marker: a hash of every statement it appears in, itself as `@`.

    What identifies a variable is what is done with it, not what it is called nor where it comes
    first: a copy that renames it, moves its cells or adds an unrelated line gives it the same name.
    Two variables used in exactly the same statements share a name, which loses nothing worth keeping.
    """
    uses: dict[str, list[str]] = defaultdict(list)
    for text in statements:
        for marker in set(MARKER_RE.findall(text)):
            own = text.replace(marker, "@")
            uses[marker].append(MARKER_RE.sub("_", own))
    return {
        marker: CANONICAL_NAME.format(hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:8])
        for marker, texts in uses.items()
    }


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _import_aliases(trees: Iterable[ast.AST]) -> dict[str, str]:
    """Each name an import binds, and the dotted path it stands for (`K` -> `keras`, `D` -> `keras.layers.Dense`)."""
    aliases: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for alias, path in _imports(node):
                    aliases.setdefault(alias, path)
    return aliases


def _imports(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
    """(bound name, canonical dotted path) for each name of one import statement."""
    for alias in node.names:
        if isinstance(node, ast.Import):
            path = alias.name if alias.asname else alias.name.split(".")[0]
        else:
            path = "." * node.level + (f"{node.module}." if node.module else "") + alias.name
        if alias.name != "*":
            yield (alias.asname or alias.name).split(".")[0], path


class _Definitions(ast.NodeVisitor):
    """The names a notebook binds, in order of first appearance (imports excluded)."""

    def __init__(self, imported: set[str]) -> None:
        self.imported = imported
        self.names: list[str] = []
        self.parameters: set[str] = set()

    def _bind(self, name: str | None) -> None:
        if name and name not in self.imported:
            self.names.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._bind(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        self._bind(node.arg)
        self.parameters.add(node.arg)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            self._bind(name)

    visit_Nonlocal = visit_Global


class _Renamer(ast.NodeTransformer):
    """Renames the student's names and drops docstrings and other bare strings (comments in disguise)."""

    def __init__(self, mapping: Mapping[str, str], aliases: Mapping[str, str], parameters: set[str]) -> None:
        self.mapping = mapping
        self.aliases = aliases
        self.parameters = parameters

    def _new(self, name: str) -> str:
        return self.mapping.get(name, name)

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id) or self.aliases.get(node.id, node.id)
        return node

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        """Imports go: every use of an imported name now spells out its path, which says it all."""
        return None

    visit_Import = visit_ImportFrom = _import

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._new(node.arg)
        self.generic_visit(node)
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.keyword:
        if node.arg in self.parameters:  # f(rate=2) where the student wrote def f(rate)
            node.arg = self._new(node.arg)
        self.generic_visit(node)
        return node

    def _rename_definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _rename_definition

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.ExceptHandler:
        if node.name:
            node.name = self._new(node.name)
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> ast.AST:
        node.names = [self._new(name) for name in node.names]
        return node

    visit_Nonlocal = visit_Global

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        self.generic_visit(node)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if not isinstance(node, ast.Module) and getattr(node, "body", None) == []:
            node.body = [ast.Pass()]  # type: ignore[attr-defined]  # a body that held only a docstring
        return node


def _unparse(
    tree: ast.Module, mapping: Mapping[str, str], aliases: Mapping[str, str], parameters: set[str]
) -> list[str] | None:
    """The cell's top-level statements, each renamed and unparsed (None: too deep to walk)."""
    try:
        renamed = _Renamer(mapping, aliases, parameters).visit(copy.deepcopy(tree))
        return [ast.unparse(ast.fix_missing_locations(statement)) for statement in renamed.body]
    except (RecursionError, ValueError, AttributeError, TypeError):
        return None


def _tokens(source: str) -> tuple[list[tokenize.TokenInfo], int]:
    """The tokens of a cell up to where tokenize gives up, and the line it gave up on (0: it did not)."""
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            tokens.append(token)
    except (tokenize.TokenError, SyntaxError):
        return tokens, (tokens[-1].end[0] + 1 if tokens else 1)
    return tokens, 0


def _token_definitions(source: str, imported: set[str]) -> list[str]:
    """Names a cell that does not parse binds, as far as tokens tell: `name =`, `def name`, `for name`."""
    tokens, _ = _tokens(source)
    names: list[str] = []
    depth = 0
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth = max(0, depth - 1)
        if token.type != tokenize.NAME or keyword.iskeyword(token.string) or token.string in imported:
            continue
        before = tokens[index - 1].string if index else ""
        after = tokens[index + 1].string if index + 1 < len(tokens) else ""
        if (after == "=" and depth == 0) or before in ("def", "class", "for"):
            names.append(token.string)
    return names


def _token_lines(source: str, mapping: Mapping[str, str]) -> list[str]:
    """A cell that does not parse: one line per logical line, tokens joined by spaces, names renamed."""
    tokens, gave_up_at = _tokens(source)
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: list[str] = []
    current: list[tokenize.TokenInfo] = []
    for token in tokens:
        if token.type == tokenize.NEWLINE:
            lines += _logical_line(current, mapping)
            current = []
        elif token.type not in skipped and (not gave_up_at or token.start[0] < gave_up_at):
            current.append(token)
    lines += _logical_line(current, mapping)
    if gave_up_at:  # the rest, as text: comments and runs of spaces dropped
        for raw in source.splitlines()[gave_up_at - 1 :]:
            text = " ".join(raw.split("#", 1)[0].split())
            if text:
                lines.append(" ".join(mapping.get(word, word) for word in text.split(" ")))
    return lines


def _logical_line(tokens: Sequence[tokenize.TokenInfo], mapping: Mapping[str, str]) -> list[str]:
    if not tokens or (len(tokens) == 1 and tokens[0].type == tokenize.STRING):
        return []  # nothing, or a docstring
    return [
        " ".join(mapping.get(t.string, t.string) if t.type == tokenize.NAME else t.string for t in tokens)
    ]
