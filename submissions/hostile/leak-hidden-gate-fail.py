# grader: exercise=gated
# old (a visible check that requires: a hidden one): the visible `gated` check gave its points, or said "counts only when secret passes", exactly as the hidden `secret` did, so two resubmissions bisected the hidden bound; expected: the student view of this report and of leak-hidden-gate-pass.py are identical, while the instructor's scores differ
"""Adversarial (hidden checks leaking by inference): the same visible answer, a different guess at a hidden bound."""

# %%
answer = 4
secret = 8
