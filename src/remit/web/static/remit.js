// Optional helpers: the pages work without them.
"use strict";
(function () {
  // Countdown of the supplemental dose's offer window (a blocked window stays "blocked").
  var offer = document.getElementById("offer-window");
  if (offer && !offer.classList.contains("blocked")) {
    var opens = new Date(offer.dataset.opens), closes = new Date(offer.dataset.closes);
    var out = offer.querySelector(".countdown");
    var tick = function () {
      var now = new Date(), text;
      if (now < opens) { text = "opens in " + Math.ceil((opens - now) / 60000) + " min"; }
      else if (now <= closes) { text = "open, closes in " + Math.ceil((closes - now) / 60000) + " min"; }
      else { text = "closed"; }
      if (out.textContent !== text) { out.textContent = text; }
    };
    tick();
    setInterval(tick, 15000);
  }
  // Range hints: a vital sign beyond its threshold is marked while typing.
  document.querySelectorAll("input[data-high], input[data-low]").forEach(function (input) {
    input.addEventListener("input", function () {
      var v = parseFloat(input.value), hi = parseFloat(input.dataset.high), lo = parseFloat(input.dataset.low);
      var beyond = !isNaN(v) && ((!isNaN(hi) && v > hi) || (!isNaN(lo) && v < lo));
      input.classList.toggle("beyond", beyond);
      input.setAttribute("aria-invalid", beyond ? "true" : "false");
    });
  });
})();
