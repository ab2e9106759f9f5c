"""The embedded AI fleet simulator: a real server on loopback speaking the
gateway control protocol (docs/protocol.md) and Jaeger's api_v3, with the
incidents of DESIGN.md's failure-mode table as switchable scenarios."""
