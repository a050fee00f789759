// The learner's own status, from the last grading, on each kata page and on the progress page.
//
// Under `uv run mkdocs serve`, dojo-status.json answers the learner's status from .dojo/ (to the served
// host only; dojo/docs_hooks.py). A grading does not rebuild the site: the open page asks again every
// few seconds while it is visible, and redraws the boxes when the status changed. A built or published
// site's dojo-status.json holds `null`: the placeholders stay empty, and the page does not ask again.
(function () {
  "use strict";

  var script = document.currentScript;
  // this file is <site root>/assets/javascripts/dojo-status.js
  var siteRoot = script ? new URL("../../", script.src) : new URL("/", window.location.href);

  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function when(stamp) {
    if (!stamp) return "—";
    var date = new Date(stamp);
    return isNaN(date.getTime()) ? stamp : date.toLocaleString();
  }

  function code(text) {
    return element("code", {}, [text]);
  }

  function link(path, text) {
    return element("a", { href: new URL(path, siteRoot).href }, [text]);
  }

  function admonition(kind, title, body) {
    return element("div", { class: "admonition " + kind }, [
      element("p", { class: "admonition-title" }, [title]),
    ].concat(body));
  }

  function kataBox(kata) {
    var hints = kata.hints_used + " of " + kata.hints_total + " hints";
    if (kata.missing_files.length) {
      return admonition("warning", "Files missing", [
        element("p", {}, [
          "Missing from katas/" + kata.kata + "/: " + kata.missing_files.join(", ") + ". ",
          code("uv run dojo reset " + kata.kata),
          " restores the starter (whatever is left is backed up first).",
        ]),
      ]);
    }
    if (kata.status === "solved") {
      return admonition("success", "Solved", [
        element("p", {}, [
          "First passed " + when(kata.first_passed_at) + " · " + kata.attempts + " gradings · " + hints + ". ",
          "Compare with the reference: ",
          code("uv run dojo solution " + kata.kata),
        ]),
      ]);
    }
    if (kata.status === "failing") {
      var items = kata.failures.map(function (failure) {
        var head = failure.rule
          ? [link(failure.rule_page, failure.rule + " · " + failure.rule_title), ": "]
          : failure.broken ? ["The code could not be loaded: "] : ["Behaviour check: "];
        return element("li", {}, head.concat([failure.message]));
      });
      return admonition("failure", "Failing — your last grading, " + when(kata.last_graded_at), [
        element("ul", {}, items),
        element("p", {}, [
          "Re-grade on every save: ",
          code("uv run dojo watch " + kata.kata),
          " · next hint (" + hints + " shown): ",
          code("uv run dojo hint " + kata.kata),
        ]),
      ]);
    }
    return admonition("info", "Not started", [
      element("p", {}, [
        "Grade it on every save: ",
        code("uv run dojo watch " + kata.kata),
        ", or once: ",
        code("uv run dojo check " + kata.kata),
      ]),
    ]);
  }

  function progressTable(status) {
    var header = element("tr", {}, ["#", "Kata", "Status", "Gradings", "Hints used", "First passed"].map(function (h) {
      return element("th", {}, [h]);
    }));
    var rows = status.katas.map(function (kata, index) {
      var state = kata.status;
      if (state === "failing" && kata.failing_rules.length) state += " (" + kata.failing_rules.join(", ") + ")";
      if (kata.missing_files.length) state = "files missing";
      return element("tr", { "data-status": kata.status }, [
        element("td", {}, [String(index + 1)]),
        element("td", {}, [link(kata.page, kata.title), " ", code(kata.kata)]),
        element("td", {}, [state]),
        element("td", {}, [String(kata.attempts)]),
        element("td", {}, [kata.hints_used + " of " + kata.hints_total]),
        element("td", {}, [when(kata.first_passed_at)]),
      ]);
    });
    var table = element("table", {}, [element("thead", {}, [header]), element("tbody", {}, rows)]);
    var bar = element("progress", { max: String(status.total), value: String(status.solved) });
    return [
      element("p", {}, [
        bar,
        " " + status.solved + " of " + status.total + " katas solved · last grading " + when(status.graded_at),
      ]),
      element("div", { class: "md-typeset__table" }, [table]),
    ];
  }

  function render(status) {
    var bySlug = {};
    status.katas.forEach(function (kata) {
      bySlug[kata.kata] = kata;
    });
    document.querySelectorAll(".dojo-status[data-kata]").forEach(function (box) {
      var kata = bySlug[box.getAttribute("data-kata")];
      box.replaceChildren();
      if (kata) box.appendChild(kataBox(kata));
    });
    document.querySelectorAll(".dojo-progress").forEach(function (box) {
      box.replaceChildren.apply(box, progressTable(status));
    });
  }

  var POLL_MS = 3000;
  var shown = null; // the status drawn last, as text
  var timer = null;

  function refresh() {
    if (!document.querySelector(".dojo-status, .dojo-progress")) return;
    fetch(new URL("dojo-status.json", siteRoot).href, { cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        var status = text ? JSON.parse(text) : null;
        if (!status || !Array.isArray(status.katas)) return; // a built site: no learner, nothing to poll
        if (text !== shown) {
          shown = text;
          render(status);
        }
        poll();
      })
      .catch(function () {
        // no status on this site: nothing to show
      });
  }

  function poll() {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(function () {
      timer = null;
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && shown !== null) refresh();
  });

  function start() {
    shown = null; // a new page (Material's instant navigation swaps the content): draw it
    refresh();
  }

  if (typeof window.document$ !== "undefined" && window.document$.subscribe) {
    window.document$.subscribe(start); // Material: every page, with or without instant navigation
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
