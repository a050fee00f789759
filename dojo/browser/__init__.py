"""The in-browser runner: the Pyodide runtime and the wheels the graders need, fetched at build time."""
