"""oncall-tui: the console for on-call engineers when an AI feature misbehaves."""

__version__ = "0.1.0"
