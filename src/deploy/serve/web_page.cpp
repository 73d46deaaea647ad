#include "deploy/serve/web_page.h"

namespace face::serve {

namespace {

// Kept in C++ so the program is one file to deploy; every string from the server is put into
// the page with textContent (never innerHTML), so a person's name cannot inject markup.
const char* const kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>facenet-cpp: verify, enrol, identify, group</title>
<style>
  :root { --fg: #1d2430; --muted: #5f6b7a; --line: #d8dee6; --accent: #2f6fdb; --same: #1b7f3b; --diff: #b3261e; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: #f6f8fb; }
  header { padding: 14px 24px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { display: inline; font-size: 18px; margin-right: 12px; }
  #model { color: var(--muted); font-size: 13px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 18px; padding: 18px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; }
  h2 { font-size: 16px; margin: 0 0 12px; }
  .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .drop { position: relative; display: flex; align-items: center; justify-content: center; min-height: 170px;
          border: 2px dashed var(--line); border-radius: 8px; cursor: pointer; overflow: hidden; color: var(--muted); }
  .drop.over { border-color: var(--accent); background: #eef4ff; }
  .drop input { position: absolute; inset: 0; opacity: 0; cursor: pointer; }
  .drop img { max-width: 100%; max-height: 220px; display: none; }
  .drop.filled img { display: block; }
  .drop.filled span { display: none; }
  .row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 10px 0; }
  input[type=text], input[type=password], input[type=number], select { padding: 5px 8px; border: 1px solid var(--line); border-radius: 5px; }
  button { padding: 6px 14px; border: 0; border-radius: 5px; background: var(--accent); color: #fff; cursor: pointer; }
  button:disabled { background: #9db5e0; cursor: default; }
  button.remove { background: #fff; color: var(--diff); border: 1px solid var(--diff); padding: 2px 10px; }
  .verdict { font-size: 22px; font-weight: 600; margin: 10px 0 4px; }
  .verdict[data-verdict=same], .verdict[data-known=true] { color: var(--same); }
  .verdict[data-verdict=different], .verdict[data-known=false] { color: var(--diff); }
  .numbers { color: var(--muted); }
  .crops { display: flex; gap: 14px; margin-top: 10px; }
  .crops figure { margin: 0; text-align: center; color: var(--muted); font-size: 12px; }
  .crops img { width: 150px; height: 150px; object-fit: contain; background: #eef1f5; border-radius: 6px; display: block; }
  .error { color: var(--diff); min-height: 1.2em; }
  .warnings { color: #8a5a00; font-size: 13px; }
  table { border-collapse: collapse; width: 100%; margin-top: 8px; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); }
  ul#people { list-style: none; padding: 0; margin: 8px 0; }
  ul#people li { display: flex; justify-content: space-between; align-items: center; padding: 5px 0; border-bottom: 1px solid var(--line); }
  .muted { color: var(--muted); }
  .cluster { display: flex; flex-wrap: wrap; gap: 6px; padding: 8px 0; border-bottom: 1px solid var(--line); }
  .cluster .label { width: 100%; color: var(--muted); font-size: 12px; }
  .cluster img { width: 72px; height: 72px; object-fit: contain; background: #eef1f5; border-radius: 4px; }
</style>
</head>
<body data-state="idle">
<header><h1>facenet-cpp</h1><span id="model">loading model information…</span></header>
<main>
  <section id="verify-section">
    <h2>1:1 verification: are these the same person?</h2>
    <div class="pair">
      <label class="drop" id="drop-a"><input type="file" accept="image/*" id="file-a"><img id="preview-a" alt="photo A"><span>Drop photo A here, or click</span></label>
      <label class="drop" id="drop-b"><input type="file" accept="image/*" id="file-b"><img id="preview-b" alt="photo B"><span>Drop photo B here, or click</span></label>
    </div>
    <div class="row">
      <label>Threshold <input id="threshold" type="number" step="0.01" min="0" max="4" placeholder="model card"></label>
      <button id="verify-btn" disabled>Compare</button>
    </div>
    <div id="verdict" class="verdict" data-verdict="">&nbsp;</div>
    <div class="numbers">distance <span id="distance">–</span> (squared L2) · threshold <span id="used-threshold">–</span></div>
    <div class="crops">
      <figure><img id="crop-a" alt=""><figcaption>A, aligned as the model sees it</figcaption></figure>
      <figure><img id="crop-b" alt=""><figcaption>B, aligned as the model sees it</figcaption></figure>
    </div>
    <p id="verify-warnings" class="warnings"></p>
    <p id="verify-error" class="error"></p>
  </section>

  <section id="identify-section">
    <h2>1:K identification: who is this?</h2>
    <label class="drop" id="drop-q"><input type="file" accept="image/*" id="file-q"><img id="preview-q" alt="photo to identify"><span>Drop a photo here, or click</span></label>
    <div class="row"><button id="identify-btn" disabled>Identify</button><span class="muted">against the gallery chosen below</span></div>
    <div id="identity" class="verdict">&nbsp;</div>
    <table id="candidates"><thead><tr><th>#</th><th>person</th><th>distance</th></tr></thead><tbody></tbody></table>
    <p id="identify-error" class="error"></p>
  </section>

  <section id="enrol-section">
    <h2>Enrol a person</h2>
    <div class="row">
      <label>Gallery <select id="gallery"></select></label>
      <label>Name <input id="person" type="text" maxlength="200" placeholder="e.g. Ada_Lovelace"></label>
    </div>
    <div class="row"><input type="file" id="enrol-files" accept="image/*" multiple></div>
    <div class="row">
      <label>Token <input id="token" type="password" autocomplete="off" placeholder="only if the server needs one"></label>
      <button id="enrol-btn">Enrol</button>
    </div>
    <p class="muted">Each photo must show exactly this one person; one bad photo refuses the whole enrolment.</p>
    <p id="enrol-result"></p>
    <p id="enrol-error" class="error"></p>
  </section>

  <section id="people-section">
    <h2>People in <span id="people-gallery">…</span></h2>
    <button id="refresh-btn">Refresh</button>
    <ul id="people"></ul>
    <p id="people-error" class="error"></p>
  </section>

  <section id="cluster-section">
    <h2>Group photos by person</h2>
    <div class="row"><input type="file" id="cluster-files" accept="image/*" multiple></div>
    <div class="row">
      <label>Method <select id="cluster-method"><option value="chinese-whispers">Chinese whispers</option><option value="agglomerative">average linkage</option></select></label>
      <button id="cluster-btn">Group</button>
    </div>
    <p class="muted">Every face of every photo is found, and faces nearer than the threshold above (or the model card's) go together.</p>
    <p id="cluster-summary"></p>
    <div id="clusters" data-groups=""></div>
    <p id="cluster-warnings" class="warnings"></p>
    <p id="cluster-error" class="error"></p>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const chosen = { a: null, b: null, q: null };
// The last request a click or a drop started: the page's test mode waits on it before its next step.
let running = Promise.resolve();
const tracked = (handler) => () => { running = handler(); };

// Every call goes through here: JSON back, and the server's error message on failure.
async function api(method, path, body, write) {
  const headers = {};
  const token = $("token").value.trim();
  if (write && token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, { method, body, headers });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    throw new Error(data && data.error ? data.error.message : "HTTP " + response.status);
  }
  return data;
}

function gallery() { return $("gallery").value; }

function choose(slot, file) {
  chosen[slot] = file;
  const img = $("preview-" + slot);
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  img.dataset.url = URL.createObjectURL(file);
  img.src = img.dataset.url;
  $("drop-" + slot).classList.add("filled");
  $("verify-btn").disabled = !(chosen.a && chosen.b);
  $("identify-btn").disabled = !chosen.q;
  if (slot !== "q" && chosen.a && chosen.b) running = verify();
  if (slot === "q") running = identify();
}

function wireDrop(slot) {
  const zone = $("drop-" + slot), input = $("file-" + slot);
  input.addEventListener("change", () => { if (input.files[0]) choose(slot, input.files[0]); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) choose(slot, e.dataTransfer.files[0]);
  });
}

async function verify() {
  const verdict = $("verdict");
  verdict.textContent = "comparing…";
  verdict.dataset.verdict = "pending";
  $("verify-error").textContent = "";
  $("verify-warnings").textContent = "";
  const form = new FormData();
  form.append("a", chosen.a, chosen.a.name || "a");
  form.append("b", chosen.b, chosen.b.name || "b");
  form.append("crops", "true");
  const threshold = $("threshold").value.trim();
  if (threshold !== "") form.append("threshold", threshold);
  try {
    const r = await api("POST", "/v1/verify", form, false);
    verdict.textContent = r.same ? "Same person" : "Different people";
    verdict.dataset.verdict = r.same ? "same" : "different";
    $("distance").textContent = r.distance.toFixed(4);
    $("used-threshold").textContent = r.threshold.toFixed(4);
    $("crop-a").src = r.a.crop || "";
    $("crop-b").src = r.b.crop || "";
    $("verify-warnings").textContent = (r.warnings || []).join("; ");
  } catch (e) {
    verdict.textContent = "No verdict";
    verdict.dataset.verdict = "error";
    $("verify-error").textContent = e.message;
  }
  document.body.dataset.state = "done";
}

async function identify() {
  const identity = $("identity"), rows = document.querySelector("#candidates tbody");
  identity.textContent = "searching…";
  delete identity.dataset.known;
  rows.replaceChildren();
  $("identify-error").textContent = "";
  const form = new FormData();
  form.append("image", chosen.q, chosen.q.name || "image");
  try {
    const r = await api("POST", "/v1/galleries/" + encodeURIComponent(gallery()) + "/identify", form, false);
    identity.textContent = r.known ? r.identity : "Unknown (nobody within " + r.threshold.toFixed(4) + ")";
    identity.dataset.known = String(r.known);
    r.candidates.forEach((c, i) => {
      const tr = document.createElement("tr");
      for (const text of [String(i + 1), c.id, c.distance.toFixed(4)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    });
    if (r.warnings && r.warnings.length) $("identify-error").textContent = r.warnings.join("; ");
  } catch (e) {
    identity.textContent = " ";
    $("identify-error").textContent = e.message;
  }
}

async function enrol() {
  const person = $("person").value.trim(), files = $("enrol-files").files;
  $("enrol-result").textContent = "";
  $("enrol-error").textContent = "";
  if (!person || files.length === 0) { $("enrol-error").textContent = "give a name and at least one photo"; return; }
  if (person.includes("/")) { $("enrol-error").textContent = "a name cannot contain '/'"; return; }
  const form = new FormData();
  for (const f of files) form.append("images", f, f.name);
  try {
    const path = "/v1/galleries/" + encodeURIComponent(gallery()) + "/people/" + encodeURIComponent(person) + "/faces";
    const r = await api("POST", path, form, true);
    $("enrol-result").textContent = "Enrolled " + r.added + " photo(s) of " + r.id + " (" + r.images + " in all)" +
        (r.duplicates.length ? "; already had " + r.duplicates.length : "");
    refreshPeople();
  } catch (e) {
    $("enrol-error").textContent = e.message;
  }
}

async function cluster() {
  const files = $("cluster-files").files, groups = $("clusters");
  groups.replaceChildren();
  groups.dataset.groups = "";
  for (const id of ["cluster-summary", "cluster-warnings", "cluster-error"]) $(id).textContent = "";
  if (files.length === 0) { $("cluster-error").textContent = "choose some photos"; return; }
  const form = new FormData();
  for (const f of files) form.append("images", f, f.name);
  form.append("crops", "true");
  form.append("method", $("cluster-method").value);
  const threshold = $("threshold").value.trim();
  if (threshold !== "") form.append("threshold", threshold);
  $("cluster-summary").textContent = "grouping…";
  try {
    const r = await api("POST", "/v1/cluster", form, false);
    $("cluster-summary").textContent = r.counts.faces + " face(s) in " + r.counts.images + " photo(s): " +
        r.counts.clusters + " group(s) at threshold " + r.threshold.toFixed(4) +
        (r.no_face.length ? "; no face in " + r.no_face.join(", ") : "");
    for (const c of r.clusters) {
      const row = document.createElement("div"), label = document.createElement("div");
      row.className = "cluster";
      row.id = "cluster-" + c.id;
      row.dataset.images = c.faces.map((f) => f.image).join("|");
      label.className = "label";
      label.textContent = "Person " + (c.id + 1) + " · " + c.size + " face(s)";
      row.appendChild(label);
      for (const f of c.faces) {
        const img = document.createElement("img");
        img.src = f.crop || "";
        img.alt = img.title = f.image;
        row.appendChild(img);
      }
      groups.appendChild(row);
    }
    groups.dataset.groups = String(r.clusters.length);
    $("cluster-warnings").textContent = (r.warnings || []).join("; ");
  } catch (e) {
    $("cluster-summary").textContent = "";
    $("cluster-error").textContent = e.message;
  }
}

async function removePerson(id) {
  if (!confirm("Remove " + id + " and all of their photos from " + gallery() + "?")) return;
  try {
    await api("DELETE", "/v1/galleries/" + encodeURIComponent(gallery()) + "/people/" + encodeURIComponent(id), null, true);
    refreshPeople();
  } catch (e) {
    $("people-error").textContent = e.message;
  }
}

async function refreshPeople() {
  const list = $("people");
  $("people-gallery").textContent = gallery();
  $("people-error").textContent = "";
  try {
    const r = await api("GET", "/v1/galleries/" + encodeURIComponent(gallery()) + "/people", null, false);
    list.replaceChildren();
    if (r.people.length === 0) {
      const li = document.createElement("li");
      li.textContent = "nobody enrolled yet";
      li.className = "muted";
      list.appendChild(li);
    }
    for (const p of r.people) {
      const li = document.createElement("li"), label = document.createElement("span"), button = document.createElement("button");
      label.textContent = p.id + " · " + p.images + " photo(s) · " + p.enrolled_at;
      button.textContent = "Remove";
      button.className = "remove";
      button.addEventListener("click", () => removePerson(p.id));
      li.append(label, button);
      list.appendChild(li);
    }
  } catch (e) {
    $("people-error").textContent = e.message;
  }
}

async function start() {
  for (const slot of ["a", "b", "q"]) wireDrop(slot);
  $("verify-btn").addEventListener("click", tracked(verify));
  $("identify-btn").addEventListener("click", tracked(identify));
  $("enrol-btn").addEventListener("click", tracked(enrol));
  $("cluster-btn").addEventListener("click", tracked(cluster));
  $("refresh-btn").addEventListener("click", refreshPeople);
  $("gallery").addEventListener("change", refreshPeople);
  try {
    const health = await api("GET", "/healthz", null, false);
    $("model").textContent = health.model.description + " · threshold " + health.threshold.toFixed(4) +
        (health.writes_need_token ? " · enrolling and removing need the token" : "");
    const galleries = await api("GET", "/v1/galleries", null, false);
    for (const g of galleries.galleries) {
      const option = document.createElement("option");
      option.value = g.name;
      option.textContent = g.name + " (" + g.people + ")";
      $("gallery").appendChild(option);
    }
    refreshPeople();
  } catch (e) {
    $("model").textContent = "the server did not answer: " + e.message;
  }
  // Test mode (serve --demo-dir): the page clicks through itself on images the server serves
  // under /demo/, each step through the same handlers a person's clicks run, one after another:
  //   ?a=/demo/X&b=/demo/Y            verify X against Y
  //   &enrol=/demo/Z&person=NAME      enrol Z as NAME in the chosen gallery
  //   &q=/demo/W                      identify W
  //   &cluster=/demo/A,/demo/B,...    group these photos
  const params = new URLSearchParams(location.search);
  const demo = (url) => url && url.startsWith("/demo/");
  const load = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    const blob = await response.blob();
    return new File([blob], url.split("/").pop(), { type: blob.type });
  };
  const put = (input, files) => {
    const list = new DataTransfer();
    for (const f of files) list.items.add(f);
    input.files = list.files;
  };
  const step = async (name, error, run) => {
    try {
      await run();
      await running;
    } catch (e) {
      $(error).textContent = name + ": " + e.message;
    }
  };
  const a = params.get("a"), b = params.get("b"), enrolUrl = params.get("enrol"), q = params.get("q");
  const group = (params.get("cluster") || "").split(",").filter(demo);
  if (demo(a) && demo(b))
    await step("verify", "verify-error", async () => {
      const [fa, fb] = await Promise.all([load(a), load(b)]);
      choose("a", fa);
      choose("b", fb);
    });
  if (demo(enrolUrl) && params.get("person"))
    await step("enrol", "enrol-error", async () => {
      put($("enrol-files"), [await load(enrolUrl)]);
      $("person").value = params.get("person");
      $("enrol-btn").click();
    });
  if (demo(q)) await step("identify", "identify-error", async () => choose("q", await load(q)));
  if (group.length)
    await step("cluster", "cluster-error", async () => {
      put($("cluster-files"), await Promise.all(group.map(load)));
      $("cluster-btn").click();
    });
  if (params.toString()) document.body.dataset.state = "done";
}

start();
</script>
</body>
</html>
)PAGE";

}  // namespace

const std::string& index_html() {
  static const std::string page = kPage;
  return page;
}

}  // namespace face::serve
