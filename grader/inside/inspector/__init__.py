"""The inspector's server side: runs sandboxed as `python -m grader.inside.inspector.server FD`.

`server` (the request loop), `measure` (the whole graph → facts), `predict` (classes for held-out
inputs, never their labels), `wire` (the socket protocol). The grader's client is
`grader.grading.inspector`.
"""
