"""The workshop board: a lead sees, as it happens, which learner is stuck on which check of which kata.

A Django + Ninja app of its own, built the way the katas teach: routes under `/api/v1/`, schemas for every
request and answer, the one error envelope (`dojo.api_errors`), cursor pagination, services that own the
logic (`services.py`), thin routes (`api.py`). `uv run dojo workshop serve` runs it under uvicorn; the
learners' gradings reach it through `dojo.workshop.client`, which queues them locally so that a board
that cannot be reached never slows or breaks a grading.
"""
