"""`dojo audit`: check a Django codebase against the standard, rule by rule.

The registry (`dojo.audit.registry`) says which check covers which rule; the checks build on ruff,
the standard library's `ast`, Django's app registry and the mounted NinjaAPIs' OpenAPI schemas.
"""
