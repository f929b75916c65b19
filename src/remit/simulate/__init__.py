"""Synthetic participants and cohorts driven through ``services``; power simulation drivers."""
