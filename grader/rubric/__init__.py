"""The instructor's vocabulary: what a rubric may say, and nothing that reads a submission.

`model` (the YAML → validated, frozen models, with file:line:col errors), `limits` (the one
`Limits` model every limit is read from), `data` (held-out data and course data sets as the rubric
names them), `late` (the late policy) and `formulas` (the lesson's shape and parameter formulas and
their explanations). Everything else in the grader may import from here; this package imports
nothing from the rest of the grader but `errors` and `result`.
"""
