"""Make it stop, safely: the action lifecycle and its audit log (docs/actions.md).

Headless: the CLI, the runbook engine and the TUI all act through
``Executor``; nothing else in the project changes an outside system.
"""
