// "Try it here": edit the kata in the page, press Check, and the real grader runs in a Web Worker on
// Pyodide (dojo-worker.mjs). The editors are CodeMirror 6 (dojo-editor.mjs), one tab per file of the
// kata: the files the kata lets the learner edit, and the others read only. The learner's code, the
// version before the last reset and the hints shown stay in localStorage, one entry per kata.
(() => {
  const panel = document.querySelector(".dojo-try[data-kata]");
  if (!panel) return;
  const root = new URL("../../", document.currentScript.src);
  const runtime = new URL("assets/runtime/", root);
  const slug = panel.dataset.kata;
  const key = `dojo-try:${slug}`;
  const limitSeconds = Number(localStorage.getItem("dojo-try:limit-seconds")) || 30;
  const loadKey = "dojo-try:load-seconds"; // how long the last start of Python took, in this browser
  let bundle = null;
  let worker = null;
  let timer = null;
  let loading = null; // while a worker starts: { started, step, done, total, bytes, ticker }
  let waiting = false; // Check was pressed before Python was loaded
  let announced = false; // the first start of the page is announced step by step; the later ones quietly
  let zipper = null;
  let workshop = null;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  };
  const button = (text, primary = false) =>
    el("button", { type: "button", class: primary ? "md-button md-button--primary" : "md-button" }, text);

  const saved = () => JSON.parse(localStorage.getItem(key) || "null") || {};
  const store = (changes) => localStorage.setItem(key, JSON.stringify({ ...saved(), ...changes }));
  const editors = {};
  const edits = () => Object.fromEntries(Object.entries(editors).map(([name, editor]) => [name, editor.value]));
  const save = () => store({ files: edits() });

  const status = el("p", { class: "dojo-try__status", role: "status" });
  // the detail of a start (packages arrived, seconds so far): visible, and not announced every second
  const progressBar = el("progress", { class: "dojo-try__progress", max: "3", value: "0", "aria-label": "Loading Python" });
  const progressDetail = el("span", { class: "dojo-try__progress-detail" });
  const progressBox = el("p", { class: "dojo-try__loading", hidden: "" }, progressBar, " ", progressDetail);
  const results = el("div", { class: "dojo-try__results", "aria-live": "polite" });
  const check = button("Check", true);
  const reset = button("Reset to starter");
  const undoReset = button("Undo the reset");
  const exportZip = button("Export as zip");
  const importZip = button("Import a zip");
  const importInput = el("input", { type: "file", accept: ".zip,application/zip", hidden: "" });
  const hintButton = button("Show a hint");
  const hintList = el("ol", { class: "dojo-try__hints" });

  function say(text) {
    status.textContent = text;
  }

  // Starting Python in three steps, each said in the status line with the time the last start took.
  const STEPS = {
    runtime: [1, "the Python runtime"],
    packages: [2, "the graders' packages"],
    harness: [3, "the graders' harness"],
  };

  function lastSeconds() {
    return Number(localStorage.getItem(loadKey)) || 0;
  }

  function loadingText() {
    const [number, what] = STEPS[loading.step] || STEPS.runtime;
    const last = lastSeconds();
    const lead = waiting ? "Check is waiting for Python" : "Loading Python";
    const expect = last
      ? `It took ${Math.round(last)} s last time.`
      : "The first start in this browser takes longest; the next ones say how long to expect.";
    return `${lead}, step ${number} of 3: ${what}. ${expect}`;
  }

  function showProgress() {
    const [number] = STEPS[loading.step] || STEPS.runtime;
    const fraction = loading.step === "packages" && loading.total ? loading.done / loading.total : 0;
    progressBar.value = number - 1 + fraction;
    const seconds = Math.round((performance.now() - loading.started) / 1000);
    const last = lastSeconds();
    const packages =
      loading.step === "packages" ? `${loading.done} of ${loading.total} packages (${(loading.bytes / 1e6).toFixed(1)} MB), ` : "";
    progressDetail.textContent = `Step ${number} of 3: ${packages}${seconds} s${last ? ` of about ${Math.round(last)} s` : ""}`;
    progressBox.hidden = false;
  }

  function progressed(data) {
    const stepChanged = data.step !== loading.step;
    Object.assign(loading, data);
    if (stepChanged && (!announced || waiting)) say(loadingText());
    showProgress();
  }

  function loaded() {
    const seconds = (performance.now() - loading.started) / 1000;
    localStorage.setItem(loadKey, seconds.toFixed(1));
    stopLoading();
    announced = true;
    return seconds;
  }

  function stopLoading() {
    if (loading) clearInterval(loading.ticker);
    loading = null;
    progressBox.hidden = true;
  }

  function fresh() {
    if (worker) worker.terminate();
    stopLoading();
    loading = { started: performance.now(), step: null, done: 0, total: 0, bytes: 0 };
    loading.ticker = setInterval(showProgress, 1000);
    if (!announced) say(loadingText());
    showProgress();
    worker = new Worker(new URL("assets/javascripts/dojo-worker.mjs", root), { type: "module" });
    worker.onmessage = ({ data }) => receive(data);
    // the harness's files (all but the learner's kata) let the worker import the graders' libraries early
    worker.postMessage({ type: "warm", harness: bundle ? bundle.files : null });
  }

  function rulePage(rule) {
    return new URL(`rules/${rule.toLowerCase()}/`, root).href;
  }

  function show(report, output) {
    results.replaceChildren();
    const kata = report && report.katas && report.katas[slug];
    if (!kata) {
      results.append(el("pre", {}, output));
      return;
    }
    const tests = kata.tests;
    const failed = tests.filter((t) => t.outcome !== "passed" && t.outcome !== "skipped");
    const skipped = tests.filter((t) => t.outcome === "skipped");
    const list = el("ul", { class: "dojo-try__checks" });
    for (const test of tests) {
      const mark = test.outcome === "passed" ? "✓" : test.outcome === "skipped" ? "–" : "✗";
      const item = el("li", { class: `dojo-try__check dojo-try__check--${test.outcome}` }, `${mark} ${test.title}`);
      if (test.outcome !== "passed") {
        if (test.message) item.append(el("pre", {}, test.message));
        if (test.rule && test.outcome !== "skipped") {
          item.append(el("p", {}, `Rule ${test.rule}: read `, el("a", { href: rulePage(test.rule) }, rulePage(test.rule))));
        }
      }
      list.append(item);
    }
    const verdict = failed.length
      ? `${failed.length} of ${tests.length} checks fail.`
      : skipped.length
        ? `Incomplete: ${skipped.length} of ${tests.length} checks did not run in the browser, so this is not solved here: run uv run pytest katas/${slug}.`
        : `Solved: all ${tests.length} checks pass.`;
    results.append(
      el("p", { class: "dojo-try__verdict" }, verdict),
      list,
      el("details", {}, el("summary", {}, "The command line's output"), el("pre", {}, output)),
    );
  }

  function receive(data) {
    if (data.type === "progress") {
      if (loading) progressed(data);
      return;
    }
    if (data.type === "warm") {
      const seconds = loaded();
      if (!timer && !waiting) say(`Ready: Python is loaded (in ${seconds.toFixed(1)} s). Press Check to grade.`);
      return;
    }
    if (data.type === "failed") {
      stopLoading();
      say(`The in-browser runner could not start: ${data.message}`);
      return;
    }
    if (data.type === "started") {
      waiting = false;
      timer = setTimeout(stuck, limitSeconds * 1000);
      say("Grading…");
      return;
    }
    clearTimeout(timer);
    timer = null;
    waiting = false;
    check.disabled = false;
    if (data.type === "graded") {
      say(`Graded in ${data.seconds.toFixed(1)} s.`);
      show(data.report, data.output);
      if (workshop) workshop.send(slug, data.report); // a workshop board the learner joined from its link
    } else {
      say(`The grading could not run: ${data.message}`);
    }
    fresh(); // a grading never reuses the interpreter of the one before
  }

  function stuck() {
    timer = null;
    check.disabled = false;
    say("");
    results.replaceChildren(
      el("p", { class: "dojo-try__verdict" }, `The grading ran for more than ${limitSeconds} s, so it was stopped: look for a loop that never ends.`),
    );
    fresh();
  }

  function grade() {
    const files = { ...bundle.files };
    for (const [name, text] of Object.entries({ ...bundle.starter, ...edits() })) files[`katas/${slug}/${name}`] = text;
    check.disabled = true;
    results.replaceChildren();
    waiting = loading !== null;
    say(waiting ? loadingText() : "Grading…");
    worker.postMessage({ type: "grade", slug, files, skips: bundle.not_in_browser });
  }

  // hints: one more each time, remembered
  function inline(text) {
    // `code` in a hint, as the page's own hints show it
    return text.split("`").map((part, n) => (n % 2 ? el("code", {}, part) : part));
  }

  function showHints() {
    const shown = Math.min(saved().hints || 0, bundle.hints.length);
    hintList.replaceChildren(...bundle.hints.slice(0, shown).map((hint) => el("li", {}, ...inline(hint))));
    hintButton.textContent = shown < bundle.hints.length ? `Show hint ${shown + 1} of ${bundle.hints.length}` : "No more hints";
    hintButton.disabled = shown >= bundle.hints.length;
  }

  function resetToStarter() {
    store({ previous: edits() }); // one undo away, across reloads
    for (const [name, editor] of Object.entries(editors)) editor.replace(bundle.starter[name]);
    save();
    undoReset.hidden = false;
    say("Reset to the starter: Undo the reset (or Ctrl-Z in the editor) brings your version back.");
  }

  function undoTheReset() {
    const previous = saved().previous;
    if (!previous) return;
    for (const [name, editor] of Object.entries(editors)) if (name in previous) editor.replace(previous[name]);
    store({ previous: undefined, files: edits() });
    undoReset.hidden = true;
    say("Your version is back.");
  }

  // export and import: the kata folder as in the repository, katas/<slug>/…, for `uv run dojo`
  function kataFiles() {
    const current = { ...bundle.starter, ...edits() };
    return Object.fromEntries(Object.entries(current).map(([name, text]) => [`katas/${slug}/${name}`, text]));
  }

  async function exportKata() {
    const link = el("a", { href: URL.createObjectURL(zipper.zip(kataFiles())), download: `${slug}.zip` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    say(`Exported ${slug}.zip: unzip it at the root of the repository, then uv run dojo check ${slug}.`);
  }

  async function importKata(file) {
    const ours = (entry) => bundle.editable.some((name) => entry === `katas/${slug}/${name}` || entry.endsWith(`/katas/${slug}/${name}`));
    if (file.size > 50_000_000) {
      say(`${file.name} is ${Math.round(file.size / 1_000_000)} MB, far more than a kata's zip: nothing was imported.`);
      return;
    }
    let files;
    try {
      files = await zipper.unzip(await file.arrayBuffer(), ours);
    } catch (error) {
      say(`${file.name} could not be read: ${error.message}. Nothing was imported.`);
      return;
    }
    const found = {};
    for (const name of bundle.editable) {
      const path = Object.keys(files).find((entry) => entry === `katas/${slug}/${name}` || entry.endsWith(`/katas/${slug}/${name}`));
      if (path !== undefined) found[name] = files[path].replace(/\r\n/g, "\n");
    }
    if (!Object.keys(found).length) {
      say(`${file.name} has no ${bundle.editable.map((name) => `katas/${slug}/${name}`).join(" or ")}: nothing was imported.`);
      return;
    }
    store({ previous: edits() });
    for (const [name, text] of Object.entries(found)) editors[name].replace(text);
    save();
    undoReset.hidden = false;
    say(`Imported ${Object.keys(found).join(", ")} from ${file.name}; Undo the reset brings the version before back.`);
  }

  async function build() {
    const manifest = await (await fetch(new URL("runtime.json", runtime))).json();
    if (!manifest.available) {
      panel.querySelector(".dojo-try__unavailable").hidden = false;
      panel.querySelector(".dojo-try__unavailable-reason").textContent = manifest.reason;
      return;
    }
    const [editorModule, zipModule, workshopModule, loaded] = await Promise.all([
      import(new URL("assets/javascripts/dojo-editor.mjs", root).href),
      import(new URL("assets/javascripts/dojo-zip.mjs", root).href),
      import(new URL("assets/javascripts/dojo-workshop.mjs", root).href),
      fetch(new URL(`katas/${slug}.json`, runtime)).then((response) => response.json()),
    ]);
    bundle = loaded;
    zipper = zipModule;
    workshop = workshopModule;
    const stored = saved().files || {};
    const tabs = el("div", { class: "dojo-try__tabs", role: "tablist" });
    const panes = el("div", { class: "dojo-try__panes" });
    const names = [...bundle.editable, ...Object.keys(bundle.starter).filter((name) => !bundle.editable.includes(name))];
    names.forEach((name, index) => {
      const editable = bundle.editable.includes(name);
      const label = `katas/${slug}/${name}`;
      const tab = el("button", { type: "button", role: "tab", class: "dojo-try__tab", "aria-selected": String(index === 0) }, name);
      if (!editable) tab.append(el("span", { class: "dojo-try__readonly" }, " (read only)"));
      const pane = el("div", { role: "tabpanel", class: "dojo-try__pane", "data-file": name, "aria-label": label });
      pane.hidden = index !== 0;
      const editor = editorModule.createEditor(pane, editable ? (stored[name] ?? bundle.starter[name]) : bundle.starter[name], {
        label,
        readOnly: !editable,
        onChange: save,
      });
      if (editable) editors[name] = editor;
      tab.addEventListener("click", () => {
        for (const other of tabs.children) other.setAttribute("aria-selected", String(other === tab));
        for (const other of panes.children) other.hidden = other !== pane;
        editor.view.requestMeasure();
      });
      tabs.append(tab);
      panes.append(pane);
    });
    check.addEventListener("click", grade);
    reset.addEventListener("click", resetToStarter);
    undoReset.addEventListener("click", undoTheReset);
    undoReset.hidden = !saved().previous;
    exportZip.addEventListener("click", exportKata);
    importZip.addEventListener("click", () => importInput.click());
    importInput.addEventListener("change", () => {
      if (importInput.files.length) importKata(importInput.files[0]);
      importInput.value = "";
    });
    hintButton.addEventListener("click", () => {
      store({ hints: (saved().hints || 0) + 1 });
      showHints();
    });
    showHints();
    panel.querySelector(".dojo-try__body").replaceChildren(
      tabs,
      panes,
      el("p", { class: "dojo-try__actions" }, check, " ", reset, " ", undoReset, " ", exportZip, " ", importZip, importInput),
      status,
      progressBox,
      results,
      el("div", { class: "dojo-try__hint-box" }, hintList, el("p", {}, hintButton)),
    );
    panel.dojoTry = { files: edits }; // what the editors hold, for the site's browser tests
    fresh();
    const joined = await workshop.joinFromLink((question) => prompt(question));
    if (joined) results.replaceChildren(el("p", { class: "dojo-try__verdict" }, joined));
  }

  build().catch((error) => say(`The in-browser runner could not start: ${error}`));
})();
