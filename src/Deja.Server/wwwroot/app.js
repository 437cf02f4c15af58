// Deja's screening page. Prompts are untrusted text: they are only ever put into the page with
// textContent (never innerHTML), so a "<script>" prompt shows as the characters it is.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function call(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const e = data && data.error ? `${data.error.field}: ${data.error.message}` : `HTTP ${response.status}`;
    throw new Error(e);
  }
  return data;
}

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!isError);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function number(x) {
  return x === null || x === undefined ? "—" : Number(x).toFixed(4);
}

async function loadInfo() {
  try {
    info = await call("/v1/info");
    const m = info.model || {};
    const t = info.threshold === null ? "no threshold (scores only)" : `${info.threshold_column} > ${info.threshold}`;
    $("model-info").textContent = `Model ${m.name || m.id} (${m.family || "?"}), method ${info.method}, flag rule: ${t}.`;
  } catch (e) {
    $("model-info").textContent = "Service description unavailable: " + e.message;
  }
}

async function screen(event) {
  event.preventDefault();
  const prompts = $("prompts").value.split("\n").map((p) => p.trim()).filter((p) => p.length > 0);
  if (prompts.length === 0) { setStatus("Type at least one prompt.", true); $("prompts").focus(); return; }
  $("screen").disabled = true;
  setStatus(`Screening ${prompts.length} prompt(s)…`);
  try {
    const data = await call("/v1/screen", { prompts });
    show(data);
    const flagged = data.results.filter((r) => r.flagged === true).length;
    setStatus(`${data.results.length} prompt(s) screened, ${flagged} flagged.`);
  } catch (e) {
    setStatus("Screening failed: " + e.message, true);
  } finally {
    $("screen").disabled = false;
  }
}

function show(data) {
  const body = $("results").querySelector("tbody");
  body.replaceChildren();
  data.results.forEach((r, i) => {
    const row = document.createElement("tr");
    cell(row, String(i + 1));
    cell(row, r.prompt, "prompt");
    const column = r.threshold_column || Object.keys(r.scores)[0];
    cell(row, number(r.scores[column]), "num");
    cell(row, number(r.threshold), "num");
    const verdict = r.flagged === null ? "no threshold" : r.flagged ? "flagged: likely memorized" : "not flagged";
    cell(row, verdict, r.flagged === true ? "flagged verdict" : r.flagged === false ? "clear verdict" : "verdict");
    const tokens = cell(row, "");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Explain";
    button.setAttribute("aria-label", `Explain prompt ${i + 1}`);
    button.addEventListener("click", () => explain(r.prompt, button));
    tokens.appendChild(button);
    body.appendChild(row);
  });
  $("results").hidden = false;
}

async function explain(prompt, button) {
  button.disabled = true;
  setStatus("Computing token significance…");
  try {
    const data = await call("/v1/explain", { prompts: [prompt] });
    const row = data.results[0];
    $("explanation-prompt").textContent = row.prompt;
    const list = $("bars");
    list.replaceChildren();
    const max = Math.max(...row.tokens.map((t) => t.significance), 1e-12);
    for (const t of row.tokens) {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.className = "token";
      label.textContent = t.token;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = (100 * t.significance / max).toFixed(1) + "%";
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", `${t.token}: ${t.significance.toFixed(4)}`);
      const value = document.createElement("span");
      value.className = "num";
      value.textContent = t.significance.toFixed(4);
      li.append(label, bar, value);
      list.appendChild(li);
    }
    $("explanation").hidden = false;
    setStatus("Token significance shown below.");
  } catch (e) {
    setStatus("Explaining failed: " + e.message, true);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("screen-form").addEventListener("submit", screen);
  $("prompts").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("screen-form").requestSubmit(); }
  });
  $("api-key").addEventListener("change", loadInfo);
  loadInfo();
});
