"""Homework (作业): assignments, submissions with text and files, grading, excellent work."""
