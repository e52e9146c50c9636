"""Generated gRPC stubs for protos/: `make protos` writes agencyos.protos.<service>.v1 here.

Only this file is committed; it gives the editable install a package to point at from a clean
checkout, before the stubs exist.
"""
