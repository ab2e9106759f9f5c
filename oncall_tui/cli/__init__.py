"""The headless command line. Never imports textual (tests/unit/test_import_hygiene.py)."""
