// The console's small enhancements: SLA countdowns that tick every second, and a queue
// that refreshes itself (through htmx) only while its tab is visible.
(function () {
  "use strict";

  function clock(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (element) {
      var left = Math.round((Number(element.dataset.due) - now) / 1000);
      var row = element.closest("tr");
      if (left <= 0) {
        element.textContent = "overdue by " + clock(-left);
        element.classList.add("late");
        if (row) row.classList.add("overdue");
      } else {
        element.textContent = clock(left) + " left";
        element.classList.remove("late");
        if (row) row.classList.remove("overdue");
      }
    });
  }

  function refreshQueue() {
    var rows = document.getElementById("queue-rows");
    if (rows && window.htmx && document.visibilityState === "visible") {
      window.htmx.trigger(rows, "refresh");
    }
  }

  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  document.addEventListener("visibilitychange", refreshQueue);
  setInterval(tick, 1000);
  setInterval(refreshQueue, 3000);
})();
