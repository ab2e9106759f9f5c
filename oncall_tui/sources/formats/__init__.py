"""Trace file formats, each registering a TraceFormat with sources.detect.

Import order is sniff order: more specific formats first.
"""
