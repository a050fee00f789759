// A workshop board, from the kata pages: the lead's join link (`#workshop=URL&code=CODE` on a kata page)
// joins the board once; afterwards every grading in the page posts its counts and failing checks (never
// the code) to the board, as `dojo workshop join` does on the command line. A post that cannot be sent
// waits in localStorage and goes with the next grading. An https page cannot post to an http board (the
// browser blocks mixed content), except to a board on this machine (127.0.0.1 or localhost).
const KEY = "dojo-workshop";
const OUTBOX = "dojo-workshop:outbox";
const ATTEMPTS = "dojo-workshop:attempts";

const read = (key, fallback) => {
  try {
    return JSON.parse(localStorage.getItem(key) || "null") ?? fallback;
  } catch {
    return fallback;
  }
};
const write = (key, value) => localStorage.setItem(key, JSON.stringify(value));

export function membership() {
  return read(KEY, null);
}

export function leave() {
  localStorage.removeItem(KEY);
  localStorage.removeItem(OUTBOX);
}

export function blockedWhy(url) {
  const board = new URL(url);
  const local = ["127.0.0.1", "localhost", "[::1]"].includes(board.hostname);
  if (location.protocol === "https:" && board.protocol === "http:" && !local) {
    return "this page is https and the board is http: the browser blocks that. Open the site over http, or serve the board over https.";
  }
  return "";
}

// the join link in the address: `#workshop=http://10.0.0.5:8800&code=ABC234`
export async function joinFromLink(ask) {
  const hash = new URLSearchParams(location.hash.slice(1));
  const url = hash.get("workshop");
  const code = hash.get("code");
  if (!url || !code) return "";
  history.replaceState(null, "", location.pathname + location.search);
  const blocked = blockedWhy(url);
  if (blocked) return `Cannot join the workshop: ${blocked}`;
  const name = ask("Your name on the workshop board:");
  if (!name) return "Not joined: no name given.";
  try {
    const response = await fetch(`${url.replace(/\/$/, "")}/api/v1/workshop/join`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code, name }),
    });
    const body = await response.json();
    if (response.status !== 201) return `The board refused to let you join: ${body.message || response.status}`;
    write(KEY, { url: url.replace(/\/$/, ""), token: body.token, name: body.name, workshop: body.workshop });
    return `Joined '${body.workshop}' as ${body.name}: each grading here now goes to the board (never your code).`;
  } catch (error) {
    return `The board at ${url} cannot be reached: ${error}`;
  }
}

export function grading(slug, report) {
  const kata = report && report.katas && report.katas[slug];
  if (!kata) return null;
  const failed = kata.tests.filter((t) => t.outcome === "failed");
  const status = failed.length ? "failing" : kata.tests.some((t) => t.outcome === "skipped") ? "incomplete" : "solved";
  const attempts = read(ATTEMPTS, {});
  attempts[slug] = (attempts[slug] || 0) + 1;
  write(ATTEMPTS, attempts);
  return {
    grading_id: crypto.randomUUID().replaceAll("-", ""),
    kata: slug,
    status,
    passed: kata.tests.filter((t) => t.outcome === "passed").length,
    failed: failed.length,
    failing: failed.slice(0, 200).map((t) => ({ check: t.test.slice(0, 300), rule: t.rule || null })),
    attempt: attempts[slug],
    graded_at: new Date().toISOString(),
    source: "browser",
  };
}

// queue the grading, then send the queue in order; what cannot be sent now stays for the next time
export async function send(slug, report) {
  const joined = membership();
  if (!joined) return;
  const post = grading(slug, report);
  const outbox = read(OUTBOX, []);
  if (post) outbox.push(post);
  while (outbox.length) {
    let response;
    try {
      response = await fetch(`${joined.url}/api/v1/workshop/gradings`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${joined.token}` },
        body: JSON.stringify(outbox[0]),
        keepalive: true,
      });
    } catch {
      break;
    }
    if (response.status >= 500 || response.status === 429) break;
    outbox.shift(); // sent, or refused for good (a conflict, a bad token): never retried forever
  }
  write(OUTBOX, outbox.slice(-500));
}
