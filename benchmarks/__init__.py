"""Benchmarks: scripts that print a table and write JSON under results/ (see each docstring)."""
