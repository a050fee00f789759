"""The grading contract as a pytest plugin, one concern per module (`-p dojo.pytest_plugin` loads it).

* `hooks`: the pytest hooks; each only hands over to the module that owns the concern.
* `run`: the run's state, one `Run` object in `config.stash` (no module keeps state of its own).
* `planning`: which katas, which tree and which checks the command line asks for, before Django starts.
* `collection`: grader files, broken katas, the order and markers of the checks, what is left out.
* `environment`: the kata's Django environment (its app alone, its modules loaded first).
* `processes`: a process per kata, forked or spawned, and replaying what it did; the one module that
  touches private pytest and Django attributes.
* `warm`: the libraries imported once, ahead of the kata processes (one list).
* `reports`: a failing check names its rule and page; each check's result record.
* `fixtures`: what every grader may ask for (`kata`, `committed`, `emails`).
* `edits`: the files-to-edit guard, added to each kata whose kata.toml has an `[edits]` table.
* `summary`: the per-kata summary that ends the run, and the results it writes.

Nothing here is imported before pytest loads the plugin except `warm` (the runner's warm processes).
"""
