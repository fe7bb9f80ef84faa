/* Live dashboard updates: one websocket (/ws/live), reconnecting after drops, and a handler per
 * event kind that updates the elements marked with data-* attributes by the server's templates.
 * Ages ("12 s ago") and node statuses (online → stale → offline) also tick locally every second,
 * from the deadlines the server sent, so a page stays right between events. */
(function () {
  "use strict";
  var body = document.body;
  var path = body.getAttribute("data-live-url");
  if (!path || !window.WebSocket) return;
  var stateDot = document.querySelector("[data-live-state]");
  var attempts = 0;
  var socket = null;
  var pinger = null;
  // Server time minus this device's time: statuses and ages must not depend on a phone's clock.
  var offset = (Date.parse(body.getAttribute("data-server-now")) - Date.now()) || 0;
  var APPROVAL = { approved: "", pending: "(waiting for approval)", suspended: "(suspended)" };

  function setState(state) {
    body.setAttribute("data-live", state);
    if (stateDot) { stateDot.setAttribute("data-state", state); stateDot.title = "live updates: " + state; }
  }

  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }
  function fields(root, name, fn) { Array.prototype.forEach.call(root.querySelectorAll('[data-field="' + name + '"]'), fn); }
  function setText(root, name, text) { fields(root, name, function (el) { el.textContent = text; }); }

  function setStatus(el, status) {
    el.textContent = status;
    el.className = status;
  }

  function age(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 90) return Math.round(seconds) + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function tick() {
    var now = Date.now() + offset;
    each("[data-ts]", function (el) {
      var at = Date.parse(el.getAttribute("data-ts"));
      if (!isNaN(at)) el.textContent = age((now - at) / 1000);
    });
    each("[data-stale-after]", function (row) {
      var stale = Date.parse(row.getAttribute("data-stale-after"));
      var offline = Date.parse(row.getAttribute("data-offline-after"));
      var status = now < stale ? "online" : now < offline ? "stale" : "offline";
      fields(row, "status", function (el) { if (el.textContent !== status) setStatus(el, status); });
    });
    setText(document, "online-count", String(document.querySelectorAll('[data-node] [data-field="status"].online').length));
  }

  var handlers = {
    "node.heartbeat": function (d) {
      var at = Date.parse(d.last_seen_at);  // the server's clock a moment ago
      if (!isNaN(at)) offset = at - Date.now();
      each('[data-node="' + d.node_id + '"]', function (row) {
        row.setAttribute("data-stale-after", d.stale_after);
        row.setAttribute("data-offline-after", d.offline_after);
        fields(row, "status", function (el) { setStatus(el, d.status); });
        fields(row, "seen", function (el) { el.setAttribute("data-ts", d.last_seen_at); el.textContent = "just now"; });
        setText(row, "relaying", d.relaying || "—");
        setText(row, "health", d.healthy ? "healthy" : "not relaying");
      });
      tick();
    },
    "spotcheck.verdict": function (d) {
      each('[data-node="' + d.node_id + '"]', function (row) {
        fields(row, "last-check", function (el) { el.textContent = d.outcome; el.className = d.passed ? "pass" : "fail"; });
        setText(row, "approval", APPROVAL[d.approval] === undefined ? d.approval : APPROVAL[d.approval]);
      });
    },
    "stream.state": function (d) {
      each('[data-stream="' + d.slug + '"]', function (row) {
        fields(row, "state", function (el) {
          el.textContent = d.live ? "LIVE" : "offline";
          el.className = d.live ? "live" : "muted";
        });
      });
    },
    "earnings.credited": function () {
      // Settlement credits many friends at once; each page asks for its own new balance.
      fetch("/api/v1/payouts", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) { if (body) setText(document, "balance", body.balance); });
    },
    "payout.changed": function (d) {
      setText(document, "balance", d.balance);
      setText(document, "pending", d.pending);
      setText(document, "available", d.available);
      each('[data-payout="' + d.payout_id + '"]', function (row) { setText(row, "status", d.status); });
    }
  };

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    setState("connecting");
    socket = new WebSocket(scheme + location.host + path);
    socket.onopen = function () {
      attempts = 0;
      setState("open");
      pinger = setInterval(function () { socket.send(JSON.stringify({ kind: "ping" })); }, 25000);
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      var handle = handlers[event.kind];
      if (handle) handle(event.data);
      document.dispatchEvent(new CustomEvent("live:" + event.kind, { detail: event.data }));
    };
    socket.onclose = function (closed) {
      clearInterval(pinger);
      setState("closed");
      if (closed.code === 4401 || closed.code === 4403) return;  // signed out: do not hammer the server
      attempts += 1;
      var delay = Math.min(10000, 500 * Math.pow(2, attempts)) * (0.75 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }

  tick();
  setInterval(tick, 1000);
  connect();
})();
