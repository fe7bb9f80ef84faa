/* The watch page: ask the coordinator where to play (a verified, least-loaded friend node or the
 * origin), play it with hls.js, and when a node fails, ask again without it. */
(function () {
  "use strict";
  var video = document.getElementById("player");
  var label = document.getElementById("source");
  var api = video.getAttribute("data-playback");
  var failed = [];
  var hls = null;
  var retry = null;  // one pending re-pick at most

  function show(choice) {
    label.setAttribute("data-source", choice.source);
    label.setAttribute("data-node", choice.node_id == null ? "" : String(choice.node_id));
    label.textContent = (choice.source === "node" ? "Playing from friend node " + choice.node_name : "Playing from the origin") + " — " + choice.reason;
  }

  function play(choice) {
    show(choice);
    if (hls) { hls.destroy(); hls = null; }
    if (!choice.live) { later(5000); return; }
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 3, manifestLoadingMaxRetry: 2 });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (!data.fatal) return;
        if (choice.node_id != null) failed.push(choice.node_id);
        label.textContent = "Source failed (" + data.details + "); choosing another…";
        later(choice.node_id != null ? 0 : 3000);
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
      .then(function (response) { return response.json(); })
      .then(play)
      .catch(function () { label.textContent = "Cannot reach the coordinator; retrying…"; later(3000); });
  }

  document.addEventListener("live:stream.state", function (event) { if (event.detail.live) pick(); });
  pick();
})();
