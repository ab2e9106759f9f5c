"""Pure models and analysis. No I/O here, and never textual, httpx or websockets."""
