// The in-browser runner's worker: Pyodide, the graders' wheels, then one grading of one kata.
//
// A worker grades once. The page starts a fresh worker for the next grading, so that nothing the
// learner's code did (a patch, a module left in sys.modules, Django's registered models) can change
// the next verdict. A fresh worker loads Pyodide, the wheels and the third-party imports while the
// learner edits ("warm"), and runs no learner code before it is asked to grade.

const runtime = new URL("../runtime/", import.meta.url);
const REPO = "/dojo-repo";
let ready = null;

async function start() {
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", runtime).href);
  const manifest = await (await fetch(new URL("runtime.json", runtime))).json();
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", runtime).href });
  await pyodide.loadPackage(manifest.wheels.map((name) => new URL(`wheels/${name}`, runtime).href));
  // third-party imports that read no settings and none of the learner's code
  await pyodide.runPythonAsync("import django.db.models, django.test, pytest, pydantic, sqlite3");
  return pyodide;
}

function write(pyodide, files) {
  for (const [name, text] of Object.entries(files)) {
    const path = `${REPO}/${name}`;
    pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
    pyodide.FS.writeFile(path, text, { encoding: "utf8" });
  }
}

const GRADE = `
import json, os, sys
os.chdir(${JSON.stringify(REPO)})
sys.path.insert(0, ${JSON.stringify(REPO)})
os.environ.update(DJANGO_SETTINGS_MODULE="dojo.settings", DJANGO_ALLOW_ASYNC_UNSAFE="true",
                  DOJO_IN_PROCESS="1", DOJO_KATAS=SLUG, PYTHONDONTWRITEBYTECODE="1")
sys.dont_write_bytecode = True
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
                    "--dojo-report", "/tmp/r.json", "-W", "ignore::pytest.PytestUnknownMarkWarning"],
                   plugins=[NotInTheBrowser(json.loads(SKIPS))])
json.dumps({"code": int(code), "report": json.load(open("/tmp/r.json")) if os.path.exists("/tmp/r.json") else None})
`;

self.onmessage = async ({ data }) => {
  if (data.type === "warm") {
    ready ??= start();
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
