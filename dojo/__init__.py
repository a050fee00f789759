"""The dojo harness: Django settings, the kata manifest, the pytest plugin and the docs hooks."""
