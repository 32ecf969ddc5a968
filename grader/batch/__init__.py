"""A class, graded: the batch as a library of typed events (`engine`), where each task runs
(`executors`: a local pool, Ray, Slurm), what the out folder keeps between runs (`store`), and how
submissions are found and named (`discovery`). The command line draws the events (`grader.cli`).
"""
