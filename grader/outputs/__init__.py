"""What a graded class hands on: the gradebook and class summary, LMS exports, rosters, similarity
flags and the Gradescope autograder. Each is made from the canonical JSON results on disk.
"""
