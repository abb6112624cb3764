// A MUSHRA-style test (ITU-R BS.1534): an open reference, and per trial the systems,
// a hidden copy of the reference and a low-passed anchor in a fresh random order,
// each rated 0-100. Results are offered as a JSON download and kept in localStorage.
(function () {
  "use strict";

  var config = window.LISTENING_TEST;
  var STORAGE_KEY = "console-listening-results:" + config.test_id;
  var state = { trialOrder: [], position: 0, results: null, trialStart: 0, current: null };

  function $(id) { return document.getElementById(id); }

  function shuffled(items) {
    var copy = items.slice();
    for (var i = copy.length - 1; i > 0; i--) {
      var j = Math.floor(Math.random() * (i + 1));
      var tmp = copy[i]; copy[i] = copy[j]; copy[j] = tmp;
    }
    return copy;
  }

  // -- playback: one audio element per version; switching keeps the position --------

  var players = [];

  function stopAll() {
    players.forEach(function (p) { p.audio.pause(); p.button.classList.remove("playing"); });
    state.current = null;
  }

  function play(player) {
    var position = state.current ? state.current.audio.currentTime : 0;
    stopAll();
    try { player.audio.currentTime = position; } catch (e) { /* not loaded yet */ }
    var started = player.audio.play();
    if (started && started.catch) { started.catch(function () {}); }
    player.button.classList.add("playing");
    state.current = player;
  }

  function makePlayer(src, button) {
    var audio = new Audio(src);
    audio.preload = "auto";
    audio.loop = true;
    var player = { audio: audio, button: button };
    button.addEventListener("click", function () { play(player); });
    players.push(player);
    return player;
  }

  // -- trials --------------------------------------------------------------------------

  function showTrial() {
    stopAll();
    players = [];
    var trial = config.trials[state.trialOrder[state.position]];
    var order = shuffled(Object.keys(trial.conditions));
    $("trial-heading").textContent =
      "Trial " + (state.position + 1) + " of " + config.trials.length;
    var refButton = $("play-reference").cloneNode(true);
    $("play-reference").replaceWith(refButton);
    makePlayer(trial.reference, refButton);

    var box = $("conditions");
    box.innerHTML = "";
    var sliders = [];
    order.forEach(function (condition, index) {
      var row = document.createElement("div");
      row.className = "condition";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "play";
      button.textContent = "\u25B6 " + String.fromCharCode(65 + index);
      var slider = document.createElement("input");
      slider.type = "range";
      slider.min = "0";
      slider.max = "100";
      slider.step = "1";
      slider.value = "0";
      slider.setAttribute("aria-label", "Rating of version " + String.fromCharCode(65 + index));
      var readout = document.createElement("output");
      readout.textContent = "0";
      slider.addEventListener("input", function () {
        readout.textContent = slider.value;
        checkNext();
      });
      row.appendChild(button);
      row.appendChild(slider);
      row.appendChild(readout);
      box.appendChild(row);
      makePlayer(trial.conditions[condition], button);
      sliders.push(slider);
    });
    state.trial = { song: trial.song, order: order, sliders: sliders };
    state.trialStart = Date.now();
    checkNext();
  }

  function checkNext() {
    var top = state.trial.sliders.some(function (s) { return Number(s.value) === 100; });
    var needTop = config.require_top_rating;
    $("next").disabled = needTop && !top;
    $("hint").textContent = needTop && !top
      ? "Rate at least one version 100: one of them is the reference." : "";
  }

  function recordTrial() {
    var t = state.trial;
    var ratings = {};
    t.order.forEach(function (condition, i) { ratings[condition] = Number(t.sliders[i].value); });
    state.results.trials.push({
      song: t.song,
      position: state.position,
      order: t.order,
      ratings: ratings,
      seconds: (Date.now() - state.trialStart) / 1000
    });
  }

  function finish() {
    stopAll();
    state.results.finished = new Date().toISOString();
    var text = JSON.stringify(state.results, null, 2);
    try { window.localStorage.setItem(STORAGE_KEY, text); } catch (e) { /* private mode */ }
    window.listeningTestResults = state.results;
    $("results-json").textContent = text;
    $("trial").hidden = true;
    $("done").hidden = false;
  }

  function download() {
    var text = JSON.stringify(state.results, null, 2);
    var blob = new Blob([text], { type: "application/json" });
    var link = document.createElement("a");
    var who = (state.results.participant || "anonymous").replace(/[^A-Za-z0-9_-]+/g, "-");
    link.href = URL.createObjectURL(blob);
    link.download = "listening-results-" + config.test_id + "-" + who + ".json";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  // -- wiring --------------------------------------------------------------------------

  $("trial-count").textContent = String(config.trials.length);
  $("start").addEventListener("click", function () {
    state.trialOrder = shuffled(config.trials.map(function (_, i) { return i; }));
    state.position = 0;
    state.results = {
      format: "console-listening-results",
      version: 1,
      test: config.title,
      test_id: config.test_id,
      participant: $("participant").value.trim(),
      started: new Date().toISOString(),
      finished: null,
      user_agent: navigator.userAgent,
      trials: []
    };
    $("welcome").hidden = true;
    $("trial").hidden = false;
    showTrial();
  });
  $("stop").addEventListener("click", stopAll);
  $("next").addEventListener("click", function () {
    recordTrial();
    state.position += 1;
    if (state.position < config.trials.length) { showTrial(); } else { finish(); }
  });
  $("download").addEventListener("click", download);
})();
