"""Exit codes of every headless command; docs/cli.md is the user-facing copy."""

OK = 0
PROBLEM = 1  # a check failed or a finding at/above --fail-on was present
USAGE = 2  # bad arguments, invalid config, unreadable input
UNREACHABLE = 3  # an outside system could not be reached or refused us
ACTION_FAILED = 4  # an action was refused, failed, or did not verify
PLANNED_ONLY = 5  # an action was planned (dry run) but not executed
INTERNAL = 70  # a bug: an unexpected error (sysexits EX_SOFTWARE); never 0 or 1
INTERRUPTED = 130
