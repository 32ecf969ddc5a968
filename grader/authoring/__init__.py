"""The instructor's tools for rubrics: `new` (a rubric from a reference solution), `lint`
(`grade rubric check`), `selftest` (`grade rubric test`), `publish` (the student rubric) and
`report` (how their results look on the terminal).
"""
