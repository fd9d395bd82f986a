// Live job page: a WebSocket that replays missed events (by sequence number) and then streams
// new ones; reconnects with the last sequence it saw; falls back to polling the JSON endpoint.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const terminal = new Set(["succeeded", "failed", "cancelled"]);
  const $ = (id) => document.getElementById(id);
  let lastSeq = 0;
  let state = root.dataset.state;
  const succeededAtLoad = state === "succeeded";
  let rate = null; // {t, step} of the first progress event seen, for the ETA
  let retries = 0;
  let socket = null;
  const chartBox = $("loss-chart");
  const chart = chartBox && window.StudioLossChart ? new window.StudioLossChart(chartBox) : null;

  function fmtSeconds(s) {
    if (!isFinite(s) || s < 0) return "";
    if (s < 60) return Math.round(s) + " s";
    return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  }

  function logLine(event) {
    const d = event.data || {};
    let text = event.kind === "state" ? "state → " + d.state + (d.message ? ": " + d.message : "")
      : event.kind === "progress" ? d.step + "/" + d.total + (d.message ? " " + d.message : "")
      : (d.message || JSON.stringify(d));
    if (d.metrics) text += " " + Object.entries(d.metrics).map(([k, v]) => k + "=" + Number(v).toPrecision(4)).join(" ");
    if (d.error) text += " — " + d.error;
    const li = document.createElement("li");
    li.dataset.seq = event.seq;
    li.textContent = "#" + event.seq + " " + new Date(event.at).toLocaleTimeString() + " " + text;
    $("job-log").appendChild(li);
  }

  function showProgress(step, total, message) {
    const bar = $("job-progress");
    bar.max = total || 1;
    bar.value = step;
    $("job-step").textContent = step + "/" + total;
    if (message) $("job-message").textContent = message;
    const now = Date.now() / 1000;
    if (!rate && step > 0 && state === "running") rate = { t: now, step: step };
    else if (rate && step > rate.step && !terminal.has(state)) {
      const perStep = (now - rate.t) / (step - rate.step);
      $("job-eta").textContent = "about " + fmtSeconds(perStep * (total - step)) + " left";
    }
  }

  function setState(next, data) {
    state = next;
    root.dataset.state = next;
    const badge = $("job-state");
    badge.textContent = next;
    badge.className = "state state-" + next;
    if (data.message) $("job-message").textContent = data.message;
    if (data.error) { $("job-error").textContent = data.error; $("job-error").hidden = false; }
    if (terminal.has(next)) {
      $("cancel-form").hidden = true;
      $("job-eta").textContent = "";
      if (next === "succeeded") { showProgress(data.total || 1, data.total || 1); refreshResults(); }
      if (next === "cancelled") refreshResults(); // a batch keeps what it finished
    }
  }

  function refreshResults() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then((r) => r.text())
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.getElementById("results");
        if (fresh) document.getElementById("results").innerHTML = fresh.innerHTML;
        // A finished text is in the result box now; the live copy above it would repeat it.
        if (fresh && fresh.querySelector("#generated-text")) $("live-text-box").hidden = true;
      });
  }

  function handle(event) {
    if (event.seq <= lastSeq) return; // replays and live pushes may overlap
    lastSeq = event.seq;
    const d = event.data || {};
    if (event.kind === "state") setState(d.state, d);
    if (event.kind === "text") { // written text, a chunk at a time (the text generator)
      if (succeededAtLoad) return; // the result box shows the whole text
      $("live-text-box").hidden = false;
      $("live-text").appendChild(document.createTextNode(d.text));
      return; // the text box shows it; the log would only repeat it
    }
    if (event.kind === "progress") {
      if (!d.history) showProgress(d.step, d.total, d.message);
      if (d.history && chart) d.history.forEach(([step, metrics]) => chart.add(step, metrics));
      if (d.metrics && chart) chart.add(d.step, d.metrics);
      if (d.preview) { $("job-preview").src = d.preview; $("job-preview").hidden = false; $("no-preview").hidden = true; }
    }
    logLine(event);
  }

  function connect() {
    const proto = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(proto + "://" + window.location.host + "/ws/jobs/" + jobId + "/?after=" + lastSeq);
    socket.onopen = () => { retries = 0; root.dataset.live = "1"; askWhenQuiet(); };
    socket.onmessage = (msg) => { handle(JSON.parse(msg.data)); askWhenQuiet(); };
    socket.onclose = (e) => {
      root.dataset.live = "0";
      if (e.code === 4403) return; // not ours; nothing to retry
      if (terminal.has(state) && lastSeq > 0) return;
      retries += 1;
      if (retries > 5) { poll(); return; }
      setTimeout(connect, Math.min(1000 * retries, 5000));
    };
  }

  // Pushes are best effort (Redis pub/sub delivers at most once): a job quiet for 10 s may have
  // had its last event lost, so ask the server for anything after the last one seen.
  let quiet = null;
  function askWhenQuiet() {
    clearTimeout(quiet);
    quiet = setTimeout(() => {
      if (terminal.has(state) || !socket || socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ after: lastSeq }));
      askWhenQuiet();
    }, 10000);
  }

  function poll() {
    fetch(root.dataset.eventsUrl + "?after=" + lastSeq, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((body) => { body.events.forEach(handle); if (!terminal.has(state)) setTimeout(poll, 1000); })
      .catch(() => setTimeout(poll, 3000));
  }

  $("cancel-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = e.target.querySelector("[name=csrfmiddlewaretoken]").value;
    $("cancel").disabled = true;
    $("job-message").textContent = "Cancelling…";
    fetch(root.dataset.cancelUrl, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" } });
  });

  connect();
})();
