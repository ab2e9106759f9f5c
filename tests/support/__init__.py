"""Test support shared by several test files (not fixtures: plain helpers)."""
