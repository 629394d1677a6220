// ingestq dashboard. Every value from the server is put in the page with textContent (never
// innerHTML), so payloads, errors and paths are shown as text. The token lives in
// sessionStorage and goes out only as an Authorization header.
"use strict";

const TOKEN_KEY = "ingestq-token";
const REFRESH_MS = 2000;
const DEAD_REASONS = ["permanent", "retries_exhausted", "poison", "stale", "cancelled"];
const STATES = ["pending", "scheduled", "processing", "done", "dead"];
const SVG = "http://www.w3.org/2000/svg";

const ui = { session: { actions: false, reason: "loading" }, selected: new Set(), timer: null,
             busy: false, view: "" };

// -- small helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick" || k === "onchange" || k === "onsubmit") node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = String(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s % 86400 / 3600)).padStart(2, "0")}h`;
}

function when(ts, now) {
  if (!ts) return "-";
  const text = new Date(ts * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  if (!now) return text;
  return ts > now ? `${text} (in ${duration(ts - now)})` : `${text} (${duration(now - ts)} ago)`;
}

function progressCell(p) {
  if (!p) return "-";
  const pct = p.total ? Math.min(100, 100 * p.done / p.total) : 0;
  const bar = el("div", { class: "bar", title: `${pct.toFixed(0)}%` }, el("div"));
  bar.firstChild.style.width = `${pct}%`;
  return el("div", {}, bar, `${p.done}/${p.total}${p.note ? " " + p.note : ""}`);
}

function notice(text, isError) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = !text;
}

function params() {
  const hash = location.hash.slice(1) || "overview";
  const [path, query] = hash.split("?");
  return { path, query: new URLSearchParams(query || "") };
}

function go(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString() : "";
  location.hash = q ? `${path}?${q}` : path;
}

// -- talking to the service -------------------------------------------------------------------

async function getJSON(path) {
  // beyond loopback the service may want the token for reads too (service.read_auth)
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

// Every action goes through here: the token as a header, the server's answer shown as text.
async function act(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const msg = `refused (${res.status}): ${data.error || "error"}`;
    notice(msg, true);
    if (res.status === 401) renderAuth();
    throw new Error(msg);
  }
  return data;
}

function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const done = (answer) => { dialog.close(); resolve(answer); };
    document.getElementById("confirm-yes").onclick = () => done(true);
    document.getElementById("confirm-no").onclick = () => done(false);
    dialog.showModal();
  });
}

function actionButton(label, onClick, cls, testid) {
  return el("button", { class: cls || "", "data-testid": testid || null,
                        disabled: !ui.session.actions, title: ui.session.actions ? null : ui.session.reason,
                        onclick: async (ev) => {
                          ev.preventDefault();
                          try { await onClick(); await refresh(); } catch (e) { /* shown by act */ }
                        } }, label);
}

// -- the token --------------------------------------------------------------------------------

function renderAuth() {
  const box = document.getElementById("auth");
  box.replaceChildren();
  if (!ui.session.actions) {
    box.append(el("span", { class: "paused", id: "read-only" }, "Read-only: ", ui.session.reason || ""));
    return;
  }
  if (ui.session.reads_need_token && !sessionStorage.getItem(TOKEN_KEY)) {
    notice("This service shows jobs only to holders of the token: enter it above.", false);
  }
  if (sessionStorage.getItem(TOKEN_KEY)) {
    box.append(el("span", { class: "muted" }, "Token set for this session"),
               el("button", { onclick: () => { sessionStorage.removeItem(TOKEN_KEY); renderAuth(); } }, "Forget"));
    return;
  }
  const input = el("input", { type: "password", id: "token", placeholder: "service token",
                              autocomplete: "off", "aria-label": "service token" });
  const form = el("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    const res = await fetch("/ui/api/token", { method: "POST",
                                                headers: { Authorization: `Bearer ${input.value}` } });
    if (res.status === 204) {
      sessionStorage.setItem(TOKEN_KEY, input.value);
      notice("Token accepted for this browser session.", false);
      renderAuth();
      refresh();
    } else {
      notice("That token was refused.", true);
    }
  } }, input, el("button", { class: "primary", type: "submit" }, "Use token"));
  box.append(form);
}

// -- views ------------------------------------------------------------------------------------

function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label),
            el("div", { class: "value", id }, value));
}

function chart(points) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 600 120");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const max = Math.max(1, ...points.map((p) => (p.completed || 0) + (p.failed || 0)));
  const w = 600 / points.length;
  points.forEach((p, i) => {
    if (p.completed === null) return;
    const hc = 110 * (p.completed / max), hf = 110 * ((p.failed || 0) / max);
    for (const [h, y, color] of [[hc, 115 - hc, "#1b7f3b"], [hf, 115 - hc - hf, "#b3261e"]]) {
      if (h <= 0) continue;
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", String(i * w + 1)); r.setAttribute("width", String(Math.max(1, w - 2)));
      r.setAttribute("y", String(y)); r.setAttribute("height", String(h)); r.setAttribute("fill", color);
      const t = document.createElementNS(SVG, "title");
      t.textContent = `${new Date(p.t * 1000).toISOString().slice(11, 16)} UTC: ${p.completed} completed, ${p.failed} failed`;
      r.append(t);
      svg.append(r);
    }
  });
  const line = document.createElementNS(SVG, "line");
  for (const [k, v] of [["x1", 0], ["x2", 600], ["y1", 115], ["y2", 115], ["stroke", "#d9dee7"]]) line.setAttribute(k, String(v));
  svg.append(line);
  const known = points.filter((p) => p.completed !== null);
  const last = known.length ? known[known.length - 1] : null;
  return el("div", { class: "chart" }, svg,
            el("div", { class: "legend" }, el("span", { class: "c" }, "■ completed"), " ",
               el("span", { class: "f" }, "■ failed"), ` per minute, last hour (peak ${max}/min)`,
               last ? ` · this minute: ${last.completed} completed, ${last.failed} failed` : " · no samples yet"));
}

async function viewOverview() {
  const o = await getJSON("/ui/api/overview");
  document.getElementById("queue-name").textContent = o.queue;
  const d = o.depth;
  const reaper = !o.reaper.enabled ? "disabled" :
    o.reaper.seconds_since_last_run === null ? "never" : `${duration(o.reaper.seconds_since_last_run)} ago`;
  const kinds = el("table", {}, el("thead", {}, el("tr", {}, ["Kind", "Pending", "State", "Completed", "Failed", "Dead", "Cancelled", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, o.kinds.map((k) => el("tr", { "data-kind": k.kind },
      el("td", {}, k.kind), el("td", { class: "pending" }, k.pending),
      el("td", { class: k.paused ? "paused" : "" }, k.paused ? "paused" : "running"),
      el("td", {}, k.completed), el("td", {}, k.failed), el("td", {}, k.dead), el("td", {}, k.cancelled),
      el("td", {}, k.paused
        ? actionButton("Resume", () => act("POST", `/kinds/${encodeURIComponent(k.kind)}/resume`), "primary", `resume-${k.kind}`)
        : actionButton("Pause", () => act("POST", `/kinds/${encodeURIComponent(k.kind)}/pause`), "", `pause-${k.kind}`))))));
  return [
    el("div", { class: "cards" },
       card("Pending", d.pending, "depth-pending"), card("Scheduled", d.scheduled, "depth-scheduled"),
       card("Processing", d.processing, "depth-processing"), card("Done (kept)", d.done, "depth-done"),
       card("Dead", d.dead, "depth-dead"), card("Oldest pending", duration(o.oldest_pending_age), "oldest"),
       card("Stale leases", o.stale, "stale"), card("Live workers", o.workers_alive, "workers-alive"),
       card("Reaper last pass", reaper, "reaper")),
    o.warnings.length ? el("div", {}, el("h2", {}, "Warnings"),
                           el("ul", { class: "warnings", id: "warnings" }, o.warnings.map((w) => el("li", {}, w)))) : null,
    el("h2", {}, "Completed and failed per minute"), chart(o.per_minute),
    el("h2", {}, "Kinds"), el("div", { class: "scroll" }, kinds),
  ];
}

function jobRow(j, now, extra) {
  const age = j.state === "processing" ? j.claimed_at : (j.state === "done" || j.state === "dead") ? j.finished_at : (j.requeued_at || j.enqueued_at);
  return el("tr", { "data-job": j.id },
    extra ? el("td", {}, extra) : null,
    el("td", {}, el("a", { href: `#job?id=${encodeURIComponent(j.id)}` }, j.id)),
    el("td", {}, j.kind), el("td", {}, j.state + (j.dead_reason ? ` (${j.dead_reason})` : "")),
    el("td", {}, j.state === "scheduled" ? when(j.due_at, now) : duration(now - age)),
    el("td", {}, j.attempts), el("td", {}, progressCell(j.progress)),
    el("td", { class: "msg payload" }, JSON.stringify(j.payload)),
    el("td", { class: "msg" }, j.last_error || "-"),
    el("td", {}, ["pending", "scheduled", "processing"].includes(j.state)
      ? actionButton("Cancel", () => act("POST", `/jobs/${encodeURIComponent(j.id)}/cancel`), "", `cancel-${j.id}`)
      : null,
      j.state === "scheduled" ? actionButton("Run now", () => act("POST", `/jobs/${encodeURIComponent(j.id)}/run-now`), "", `run-now-${j.id}`) : null));
}

function jobTable(jobs, now, withSelect) {
  const head = [withSelect ? "" : null, "ID", "Kind", "State", "Age / due", "Attempts", "Progress", "Payload", "Last error", ""].filter((h) => h !== null);
  return el("div", { class: "scroll" }, el("table", { id: "jobs-table" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, jobs.map((j) => jobRow(j, now, withSelect ? el("input", {
      type: "checkbox", "aria-label": `select job ${j.id}`, "data-select": j.id,
      checked: ui.selected.has(j.id),
      onchange: (ev) => { if (ev.target.checked) ui.selected.add(j.id); else ui.selected.delete(j.id); },
    }) : null)))));
}

function filterForm(q, fields, path) {
  const inputs = {};
  const form = el("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const query = {};
    for (const [k, input] of Object.entries(inputs)) query[k] = input.value;
    go(path, query);
  } });
  for (const [name, label, options] of fields) {
    const input = options
      ? el("select", { name }, options.map((o) => el("option", { value: o, selected: q.get(name) === o }, o || "any")))
      : el("input", { name, value: q.get(name) || "", size: 10 });
    inputs[name] = input;
    form.append(el("label", {}, label, input));
  }
  form.append(el("button", { type: "submit" }, "Filter"));
  return form;
}

function pager(q, path, data) {
  const page = data.page;
  const move = (p) => { const query = Object.fromEntries(q.entries()); query.page = p; go(path, query); };
  return el("div", { class: "actions" },
    el("button", { disabled: page === 0, onclick: () => move(page - 1) }, "← Newer page"),
    el("span", { class: "muted" }, `page ${page + 1} · ${data.total_in_state} in this state`),
    el("button", { disabled: !data.more, onclick: () => move(page + 1) }, "Next page →"));
}

function listQuery(q, state) {
  const p = new URLSearchParams({ state, page: q.get("page") || "0", size: "50" });
  for (const k of ["kind", "reason", "older_than"]) if (q.get(k)) p.set(k, q.get(k));
  return p.toString();
}

async function viewJobs(q) {
  const state = q.get("state") || "pending";
  const data = await getJSON(`/ui/api/jobs?${listQuery(q, state)}`);
  const now = Date.now() / 1000;
  return [filterForm(q, [["state", "State", STATES], ["kind", "Kind"], ["older_than", "Older than (s)"]], "jobs"),
          jobTable(data.jobs, now, false), pager(q, "jobs", data)];
}

async function viewScheduled(q) {
  const data = await getJSON(`/ui/api/jobs?${listQuery(q, "scheduled")}`);
  return [el("p", { class: "muted" }, "Delayed jobs and retries waiting out their backoff, soonest first."),
          filterForm(q, [["kind", "Kind"]], "scheduled"), jobTable(data.jobs, Date.now() / 1000, false),
          pager(q, "scheduled", data)];
}

function deadFilterBody(q) {
  const body = {};
  if (q.get("kind")) body.kind = q.get("kind");
  if (q.get("reason")) body.reason = q.get("reason");
  if (q.get("older_than")) body.older_than = Number(q.get("older_than"));
  if (!Object.keys(body).length) body.all = true;
  return body;
}

async function deadAction(verb, q, selectionOnly) {
  let body, count;
  if (selectionOnly) {
    body = { ids: [...ui.selected] };
    count = body.ids.length;
    if (!count) { notice("Select jobs first.", true); return; }
  } else {
    body = deadFilterBody(q);
    const p = new URLSearchParams(Object.entries(body).filter(([k]) => k !== "all"));
    count = (await getJSON(`/ui/api/dead/count?${p}`)).count;
  }
  const what = verb === "retry" ? "send back to pending" : "delete for good";
  if (!(await confirmAction(`This will ${what} ${count} dead job(s). Continue?`))) return;
  const out = await act("POST", `/dead/${verb}`, body);
  ui.selected.clear();
  notice(`${verb === "retry" ? "Retried" : "Purged"} ${out.count} job(s).`, false);
}

async function viewDead(q) {
  const data = await getJSON(`/ui/api/jobs?${listQuery(q, "dead")}`);
  const shown = new Set(data.jobs.map((j) => j.id));
  for (const id of [...ui.selected]) if (!shown.has(id)) ui.selected.delete(id);
  return [filterForm(q, [["kind", "Kind"], ["reason", "Reason", ["", ...DEAD_REASONS]], ["older_than", "Older than (s)"]], "dead"),
          el("div", { class: "actions" },
             actionButton("Retry selected", () => deadAction("retry", q, true), "primary", "retry-selected"),
             actionButton("Purge selected", () => deadAction("purge", q, true), "danger", "purge-selected"),
             actionButton("Retry all matching", () => deadAction("retry", q, false), "", "retry-filter"),
             actionButton("Purge all matching", () => deadAction("purge", q, false), "danger", "purge-filter")),
          jobTable(data.jobs, Date.now() / 1000, true), pager(q, "dead", data)];
}

async function viewWorkers() {
  const data = await getJSON("/ui/api/workers");
  if (!data.workers.length) return [el("p", { id: "no-workers" }, "No live worker. Start one with `ingestctl worker`.")];
  return data.workers.map((w) => el("section", { class: "worker", "data-worker": w.id },
    el("h2", {}, w.id),
    el("dl", { class: "fields" },
       el("dt", {}, "host / pid"), el("dd", {}, `${w.host} / ${w.pid}`),
       el("dt", {}, "kinds"), el("dd", {}, w.kinds || "-"),
       el("dt", {}, "concurrency"), el("dd", {}, `${w.concurrency} (${w.isolation})`),
       el("dt", {}, "version"), el("dd", {}, w.version),
       el("dt", {}, "last heartbeat"), el("dd", {}, `${duration(w.seconds_since_beat)} ago`)),
    w.jobs.length ? el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Job", "Kind", "Running for", "Progress", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, w.jobs.map((j) => el("tr", { "data-job": j.id },
        el("td", {}, el("a", { href: `#job?id=${encodeURIComponent(j.id)}` }, j.id)), el("td", {}, j.kind),
        el("td", {}, duration(j.running_for)), el("td", {}, progressCell(j.progress)),
        el("td", {}, actionButton("Cancel", () => act("POST", `/jobs/${encodeURIComponent(j.id)}/cancel`), "", `cancel-${j.id}`)))))))
      : el("p", { class: "muted" }, "holds no job")));
}

async function viewJob(q) {
  const id = q.get("id") || "";
  const data = await getJSON(`/ui/api/jobs/${encodeURIComponent(id)}`);
  const j = data.job, now = data.now;
  const fields = [["state", j.state + (j.dead_reason ? ` (${j.dead_reason})` : "")], ["kind", j.kind],
    ["attempts", `${j.attempts} (${j.failures} failed of ${j.max_retries} retries, ${j.crash_recoveries} crash recoveries)`],
    ["worker", j.worker || "-"], ["dedupe key", j.dedupe_key || "-"], ["enqueued", when(j.enqueued_at, now)],
    ["started", when(j.started_at, now)], ["finished", when(j.finished_at, now)], ["due", when(j.due_at, now)],
    ["last error", j.last_error || "-"]];
  const times = [["enqueued", j.enqueued_at], ["started", j.started_at], ["claimed", j.claimed_at],
    ["requeued", j.requeued_at], ["failed", j.failed_at], ["finished", j.finished_at]].filter(([, t]) => t);
  const timeline = [...times.map(([name, t]) => ({ t, text: `${name} (record)` })),
    ...data.events.map((e) => ({ t: e.t, text: `${e.type}${Object.keys(e.fields).length ? " " + Object.entries(e.fields).map(([k, v]) => `${k}=${v}`).join(" ") : ""}` })),
  ].sort((a, b) => a.t - b.t);
  const active = ["pending", "scheduled", "processing"].includes(j.state);
  return [
    el("h2", { id: "job-title" }, `Job ${j.id}`),
    el("div", { class: "actions" },
       active ? actionButton("Cancel", () => act("POST", `/jobs/${encodeURIComponent(j.id)}/cancel`), "danger", "cancel-job") : null,
       j.state === "scheduled" ? actionButton("Run now", () => act("POST", `/jobs/${encodeURIComponent(j.id)}/run-now`), "", "run-now-job") : null,
       j.state === "dead" ? actionButton("Retry", () => act("POST", "/dead/retry", { ids: [j.id] }), "primary", "retry-job") : null,
       j.state === "dead" ? actionButton("Purge", async () => {
         if (await confirmAction(`Delete job ${j.id} for good?`)) await act("POST", "/dead/purge", { ids: [j.id] });
       }, "danger", "purge-job") : null),
    el("dl", { class: "fields" }, fields.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    j.progress ? [el("h2", {}, "Progress"), progressCell(j.progress)] : null,
    el("h2", {}, "Payload"), el("pre", { id: "payload" }, JSON.stringify(j.payload, null, 2)),
    j.result !== null ? [el("h2", {}, "Result"), el("pre", {}, JSON.stringify(j.result, null, 2))] : null,
    el("h2", {}, `Errors (${j.errors.length} kept)`),
    j.errors.length ? el("ol", {}, j.errors.map((e) => el("li", {},
      `attempt ${e.attempt ?? "-"} · ${e.type}: ${e.message} · ${e.reason || ""} · ${when(e.at ? e.at / 1000 : null)}`,
      e.traceback ? el("details", {}, el("summary", {}, "traceback"), el("pre", {}, e.traceback)) : null)))
      : el("p", { class: "muted" }, "none"),
    el("h2", {}, "Timeline"),
    el("ol", { class: "timeline" }, timeline.map((e) => el("li", {}, `${when(e.t)} · ${e.text}`))),
  ];
}

const VIEWS = { overview: viewOverview, jobs: viewJobs, workers: viewWorkers, dead: viewDead,
                scheduled: viewScheduled, job: viewJob };

async function refresh(periodic) {
  if (ui.busy || document.getElementById("confirm").open) return;
  const { path, query } = params();
  const view = VIEWS[path] || viewOverview;
  ui.busy = true;
  try {
    const nodes = await view(query);
    const main = document.getElementById("view");
    const focused = document.activeElement && main.contains(document.activeElement) && document.activeElement.name;
    if (periodic && focused) return;  // do not replace a form field while someone types in it
    // an opened traceback stays open across the 2 s updates of the same view
    const open = main.dataset.view === path
      ? [...main.querySelectorAll("details")].map((d) => d.open) : [];
    main.replaceChildren(...[nodes].flat(Infinity).filter(Boolean));
    main.querySelectorAll("details").forEach((d, i) => { if (open[i]) d.open = true; });
    main.dataset.view = path;
    main.dataset.updated = String(Date.now());
  } catch (e) {
    notice(`cannot load this view: ${e.message}`, true);
  } finally {
    ui.busy = false;
  }
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === path);
}

async function start() {
  try { ui.session = await getJSON("/ui/api/session"); } catch (e) { ui.session = { actions: false, reason: e.message }; }
  renderAuth();
  window.addEventListener("hashchange", () => { ui.selected.clear(); notice("", false); refresh(); });
  await refresh();
  ui.timer = setInterval(() => { if (!document.hidden) refresh(true); }, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
