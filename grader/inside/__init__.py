"""What runs behind the wall, on the far side of the trust boundary: `kernel/` (shipped as source
into the student's kernel) and `inspector/` (the sandboxed server that loads, measures and runs
saved models). Nothing here is trusted by the grader; what it reports is hostile input.
"""
