/* The watch page: ask the coordinator where to play (a verified, least-loaded friend node or the
 * origin), play it with hls.js, and when a node fails, ask again without it.
 * The page holds a ticket and reports every ~10 s the segments it loaded (URL, size, SHA-256 of the
 * bytes): from a node, viewers' reports are what pays it; from the node or the origin, they are
 * what makes this viewer count as watching. */
(function () {
  "use strict";
  var video = document.getElementById("player");
  var label = document.getElementById("source");
  var api = video.getAttribute("data-playback");
  var reportsApi = video.getAttribute("data-reports");
  var reportEvery = 1000 * Number(video.getAttribute("data-report-every") || 10);
  var failed = [];
  var hls = null;
  var retry = null;  // one pending re-pick at most
  var ticket = null;  // this playback's ticket (null: none was given, or it ran out)
  var loaded = [];  // segments loaded, not reported yet
  var generation = 0;  // which play() a loaded segment belongs to (the ticket itself gets renewed)

  // crypto.subtle exists on https pages (and localhost) only; elsewhere the page cannot attest.
  var canAttest = !!(window.crypto && window.crypto.subtle);

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function note(url, bytes, playing) {
    window.crypto.subtle.digest("SHA-256", bytes).then(function (digest) {
      if (playing === generation && ticket) loaded.push({ url: url, bytes: bytes.byteLength, sha256: hex(digest) });
    });
  }

  // hls.js hands a fragment's bytes to its transmuxer, which may move them to a worker: copy them
  // in the loader, before that, to hash exactly what the node sent.
  function countingLoader(Base) {
    return class extends Base {
      load(context, config, callbacks) {
        var onSuccess = callbacks.onSuccess;
        var playing = generation;
        callbacks.onSuccess = function (response, stats, ctx, details) {
          if (response.data instanceof ArrayBuffer) note(ctx.url, response.data.slice(0), playing);
          onSuccess(response, stats, ctx, details);
        };
        super.load(context, config, callbacks);
      }
    };
  }

  function report() {
    if (!ticket || !loaded.length) return;
    var sent = ticket;
    var batch = loaded.splice(0, 30);
    fetch(reportsApi, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ ticket: sent, segments: batch })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok) {
          if (ticket === sent) ticket = body.ticket;  // renewed before it runs out
        } else if (response.status === 429) {
          loaded = batch.concat(loaded);  // too soon: next time
        } else if (ticket === sent) {
          ticket = null;  // expired or the session ended: the next pick brings a new one
          loaded = [];
        }
      });
    }).catch(function () { loaded = batch.concat(loaded); });
  }
  setInterval(report, reportEvery);

  function show(choice) {
    label.setAttribute("data-source", choice.source);
    label.setAttribute("data-node", choice.node_id == null ? "" : String(choice.node_id));
    label.textContent = (choice.source === "node" ? "Playing from friend node " + choice.node_name : "Playing from the origin") + " — " + choice.reason;
  }

  function play(choice) {
    show(choice);
    if (hls) { hls.destroy(); hls = null; }
    ticket = canAttest && choice.ticket ? choice.ticket : null;
    loaded = [];
    generation += 1;
    if (!choice.live) { later(5000); return; }
    if (window.Hls && window.Hls.isSupported()) {
      var options = { liveSyncDurationCount: 3, manifestLoadingMaxRetry: 2 };
      if (ticket) options.fLoader = countingLoader(window.Hls.DefaultConfig.loader);
      hls = new window.Hls(options);
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        if (choice.node_id != null) failed.push(choice.node_id);
        label.textContent = "Source failed (" + data.details + "); choosing another…";
        later(choice.node_id != null ? 500 : 3000);  // never a tight loop of failing sources
      });
      hls.loadSource(choice.url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = choice.url;  // Safari plays HLS itself
    } else {
      label.textContent = "This browser cannot play HLS.";
      return;
    }
    video.play().catch(function () { /* autoplay refused: the controls are there */ });
  }

  function later(ms) {
    clearTimeout(retry);
    retry = setTimeout(pick, ms);
  }

  function pick() {
    clearTimeout(retry);
    retry = null;
    fetch(api + (failed.length ? "?exclude=" + failed.join(",") : ""), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 429) {  // throttled: wait as long as the site asks, then pick again
          var wait = parseInt(response.headers.get("Retry-After") || "5", 10);
          label.textContent = "The coordinator is busy; retrying in " + wait + " s…";
          later(Math.max(1, wait) * 1000);
          return null;
        }
        return response.json();
      })
      .then(function (choice) { if (choice) play(choice); })
      .catch(function () { label.textContent = "Cannot reach the coordinator; retrying…"; later(3000); });
  }

  document.addEventListener("live:stream.state", function (event) { if (event.detail.live) pick(); });
  pick();
})();
