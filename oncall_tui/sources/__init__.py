"""Adapters: each outside system's wire format in, core models out, and back.

One module per system. Every adapter is a plugin (``oncall_tui.plugins``) and
implements only the capability Protocols (``capabilities``) its system has.
"""
