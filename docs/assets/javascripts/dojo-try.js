// "Try it here": edit the kata in the page, press Check, and the real grader runs in a Web Worker on
// Pyodide (dojo-worker.mjs). The learner's code stays in localStorage, one entry per kata.
(() => {
  const panel = document.querySelector(".dojo-try[data-kata]");
  if (!panel) return;
  const root = new URL("../../", document.currentScript.src);
  const runtime = new URL("assets/runtime/", root);
  const slug = panel.dataset.kata;
  const key = `dojo-try:${slug}`;
  const limitSeconds = Number(localStorage.getItem("dojo-try:limit-seconds")) || 30;
  let bundle = null;
  let worker = null;
  let timer = null;

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  };

  const saved = () => JSON.parse(localStorage.getItem(key) || "null") || {};
  const editors = {};
  const edits = () => Object.fromEntries(Object.entries(editors).map(([name, area]) => [name, area.value]));
  const save = () => localStorage.setItem(key, JSON.stringify({ ...saved(), files: edits() }));

  const status = el("p", { class: "dojo-try__status", role: "status" });
  const results = el("div", { class: "dojo-try__results", "aria-live": "polite" });
  const check = el("button", { type: "button", class: "md-button md-button--primary" }, "Check");
  const reset = el("button", { type: "button", class: "md-button" }, "Reset to starter");

  function say(text) {
    status.textContent = text;
  }

  function fresh() {
    if (worker) worker.terminate();
    worker = new Worker(new URL("assets/javascripts/dojo-worker.mjs", root), { type: "module" });
    worker.onmessage = ({ data }) => receive(data);
    worker.postMessage({ type: "warm" });
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
        if (test.rule) {
          item.append(el("p", {}, `Rule ${test.rule}: read `, el("a", { href: rulePage(test.rule) }, rulePage(test.rule))));
        }
      }
      list.append(item);
    }
    const verdict = failed.length
      ? `${failed.length} of ${tests.length} checks fail.`
      : skipped.length
        ? `${skipped.length} of ${tests.length} checks were skipped in the browser: not solved here, run it on the command line.`
        : `Solved: all ${tests.length} checks pass.`;
    results.append(
      el("p", { class: "dojo-try__verdict" }, verdict),
      list,
      el("details", {}, el("summary", {}, "The command line's output"), el("pre", {}, output)),
    );
  }

  function receive(data) {
    if (data.type === "warm") {
      if (!timer) say("Ready: Python is loaded. Press Check to grade.");
      return;
    }
    if (data.type === "failed") {
      say(`The in-browser runner could not start: ${data.message}`);
      return;
    }
    if (data.type === "started") {
      timer = setTimeout(stuck, limitSeconds * 1000);
      say("Grading…");
      return;
    }
    clearTimeout(timer);
    timer = null;
    check.disabled = false;
    if (data.type === "graded") {
      say(`Graded in ${data.seconds.toFixed(1)} s.`);
      show(data.report, data.output);
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
    say("Loading Python…");
    worker.postMessage({ type: "grade", slug, files });
  }

  async function build() {
    const manifest = await (await fetch(new URL("runtime.json", runtime))).json();
    if (!manifest.available) {
      panel.querySelector(".dojo-try__unavailable").hidden = false;
      panel.querySelector(".dojo-try__unavailable-reason").textContent = manifest.reason;
      return;
    }
    bundle = await (await fetch(new URL(`katas/${slug}.json`, runtime))).json();
    const stored = saved().files || {};
    const area = el("div", { class: "dojo-try__editors" });
    for (const name of bundle.editable) {
      const editor = el("textarea", { class: "dojo-try__editor", spellcheck: "false", "aria-label": `katas/${slug}/${name}`, rows: "24" });
      editor.value = stored[name] ?? bundle.starter[name];
      editor.addEventListener("input", save);
      editors[name] = editor;
      area.append(el("label", { class: "dojo-try__file" }, el("code", {}, `katas/${slug}/${name}`), editor));
    }
    check.addEventListener("click", grade);
    reset.addEventListener("click", () => {
      localStorage.setItem(key, JSON.stringify({ previous: edits() })); // one undo away, in storage
      for (const [name, editor] of Object.entries(editors)) editor.value = bundle.starter[name];
      save();
    });
    panel.querySelector(".dojo-try__body").replaceChildren(area, el("p", {}, check, " ", reset), status, results);
    say("Loading Python…");
    fresh();
  }

  build().catch((error) => say(`The in-browser runner could not start: ${error}`));
})();
