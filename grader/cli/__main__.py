"""`python -m grader.cli`: the `grade` command without its console script."""

from grader.cli import main

main()
