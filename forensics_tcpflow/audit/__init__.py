"""Reproducibility audits: `diff` compares two runs by their reports and the files they name;
`reproduce` replays the run a report describes and diffs the result against it.

A subpackage of its own (not batch/, which runs jobs): it reads finished runs only, reusing verify's
streaming reader, digests and folder walk.
"""
