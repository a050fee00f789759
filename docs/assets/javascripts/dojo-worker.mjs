// The in-browser runner's worker: Pyodide, the graders' wheels, then one grading of one kata.
//
// A worker grades once. The page starts a fresh worker for the next grading, so that nothing the
// learner's code did (a patch, a module left in sys.modules, Django's registered models) can change
// the next verdict. A fresh worker loads Pyodide, the wheels, the harness's files and the modules that
// read neither the settings nor the learner's code while the learner edits ("warm"); it runs no
// learner code before it is asked to grade.

const runtime = new URL("../runtime/", import.meta.url);
const REPO = "/dojo-repo";
let ready = null;

// The environment of every grading; DOJO_KATAS, which makes the settings load the kata, is set at grading.
const SETUP = `
import os, sys
os.chdir(${JSON.stringify(REPO)})
if ${JSON.stringify(REPO)} not in sys.path:
    sys.path.insert(0, ${JSON.stringify(REPO)})
os.environ.update(DJANGO_SETTINGS_MODULE="dojo.settings", DJANGO_ALLOW_ASYNC_UNSAFE="true",
                  DOJO_IN_PROCESS="1", PYTHONDONTWRITEBYTECODE="1")
sys.dont_write_bytecode = True
`;

// Modules that import neither the settings (dojo.settings loads the kata) nor any kata module; Ninja is
// not among them, as it reads the settings when imported. tests/test_browser_runtime.py checks this list.
const WARM = `${SETUP}
import importlib.metadata
import django.db.models, django.test, pytest, pydantic, sqlite3
import django.db.backends.sqlite3.base, django.db.backends.sqlite3.schema, django.test.client, django.test.runner
import django.core.management.commands.migrate, django.db.migrations.executor
import factory.django, httpx, respx, stamina, zoneinfo
import pytest_django.plugin
import dojo.pytest_plugin, dojo.grading, dojo.races, dojo.clock
list(importlib.metadata.distributions())  # pytest looks its plugins up by entry point
`;

// What the page shows while the worker starts: the step (1 of 3), and for the packages how many of
// them have arrived.
function progress(step, details = {}) {
  self.postMessage({ type: "progress", step, ...details });
}

// Loads the wheels as Pyodide does (all requested at once), counting each one as its download ends:
// Pyodide fetches with the worker's global fetch, which is wrapped for the time of the call.
async function loadWheels(pyodide, urls) {
  const wanted = new Set(urls);
  const original = self.fetch;
  let done = 0;
  let bytes = 0;
  progress("packages", { done, total: urls.length, bytes });
  self.fetch = async (input, init) => {
    const response = await original(input, init);
    const url = String(input instanceof Request ? input.url : input);
    if (!wanted.has(url) || !response.ok) return response;
    const body = await response.arrayBuffer();
    done += 1;
    bytes += body.byteLength;
    progress("packages", { done, total: urls.length, bytes });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  try {
    await pyodide.loadPackage(urls);
  } finally {
    self.fetch = original;
  }
}

async function start(harness) {
  progress("runtime");
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", runtime).href);
  const manifest = await (await fetch(new URL("runtime.json", runtime))).json();
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", runtime).href });
  await loadWheels(pyodide, manifest.wheels.map((name) => new URL(`wheels/${name}`, runtime).href));
  progress("harness");
  pyodide.FS.mkdirTree(REPO);
  write(pyodide, harness || {});
  await pyodide.runPythonAsync(harness ? WARM : `${SETUP}\nimport django.db.models, django.test, pytest, pydantic, sqlite3`);
  return pyodide;
}

function write(pyodide, files) {
  for (const [name, text] of Object.entries(files)) {
    const path = `${REPO}/${name}`;
    pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
    pyodide.FS.writeFile(path, text, { encoding: "utf8" });
  }
}

const GRADE = `${SETUP}
import json
os.environ["DOJO_KATAS"] = SLUG
import dojo.clock
dojo.clock.install()  # time-machine is compiled: the graders' clock is dojo/clock.py here
import pytest

class NotInTheBrowser:
    """Skips, with their reason, the checks that cannot run here (they start threads)."""

    def __init__(self, reasons):
        self.reasons = reasons

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            reason = self.reasons.get(getattr(item, "originalname", item.name)) or self.reasons.get(item.name)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"not in the browser: {reason}"))

code = pytest.main([f"katas/{SLUG}", "-p", "dojo.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:faker",
                    "--dojo-report", "/tmp/r.json", "-W", "error", "-W", "ignore::pytest.PytestUnknownMarkWarning",
                    "-W", "ignore::pytest.PytestAssertRewriteWarning"],
                   plugins=[NotInTheBrowser(json.loads(SKIPS))])
json.dumps({"code": int(code), "report": json.load(open("/tmp/r.json")) if os.path.exists("/tmp/r.json") else None})
`;

self.onmessage = async ({ data }) => {
  if (data.type === "warm") {
    ready ??= start(data.harness);
    try {
      await ready;
      self.postMessage({ type: "warm" });
    } catch (error) {
      self.postMessage({ type: "failed", message: String(error) });
    }
    return;
  }
  if (data.type !== "grade") return;
  ready ??= start();
  try {
    const pyodide = await ready;
    const started = performance.now();
    let output = "";
    pyodide.setStdout({ batched: (line) => { output += line + "\n"; } });
    pyodide.setStderr({ batched: (line) => { output += line + "\n"; } });
    write(pyodide, data.files);
    pyodide.globals.set("SLUG", data.slug);
    pyodide.globals.set("SKIPS", JSON.stringify(data.skips || {}));
    self.postMessage({ type: "started" });
    const result = JSON.parse(await pyodide.runPythonAsync(GRADE));
    self.postMessage({ type: "graded", output, seconds: (performance.now() - started) / 1000, ...result });
  } catch (error) {
    self.postMessage({ type: "error", message: String(error) });
  }
};
