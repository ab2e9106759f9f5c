"""Runbooks: the format, the expression language, the engine and incident sessions.

Headless: the TUI and the CLI drive the same engine (``engine.Engine``).
"""
