"""Batch processing of evidence folders: walking, jobs, journal, verify."""
