// Live progress of an interception batch: poll the batch's status every second until all are done.
(function () {
  "use strict";
  var root = document.getElementById("batch");
  if (!root || root.dataset.finished === "1") { return; }
  var url = root.dataset.statusUrl;
  function setText(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function update(data) {
    var p = data.progress;
    setText("p-done", p.done); setText("p-total", p.total);
    setText("p-succeeded", p.succeeded); setText("p-failed", p.failed);
    var bar = document.getElementById("bar");
    if (bar) { bar.style.width = (p.total ? Math.round(100 * p.done / p.total) : 100) + "%"; }
    data.orders.forEach(function (o) {
      var row = document.querySelector('tr[data-order="' + o.id + '"]');
      if (!row) { return; }
      var badge = row.querySelector(".status .badge");
      badge.className = "badge badge-so-" + o.status;
      badge.textContent = o.status_label;
      row.querySelector(".reason").textContent = o.reason;
      var fee = row.querySelector(".fee");
      if (fee) { fee.textContent = o.fee === null ? "\u2014" : o.fee; }  // charged on success only
    });
    if (p.finished) { root.dataset.finished = "1"; if (p.failed) { window.location.reload(); } return; }
    window.setTimeout(poll, 1000);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(update)
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
