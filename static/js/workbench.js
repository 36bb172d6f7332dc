// Workbench: a "select all on this page" box. The page works without it (rows are ticked one by one).
document.addEventListener("DOMContentLoaded", () => {
  const all = document.querySelector(".js-select-all");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll(".js-select"));
  all.hidden = false;
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
  });
  document.addEventListener("change", (event) => {
    if (!event.target.classList.contains("js-select")) return;
    const list = boxes();
    all.checked = list.length > 0 && list.every((box) => box.checked);
    all.indeterminate = !all.checked && list.some((box) => box.checked);
  });
});

// Quick views: a count that stopped at 99+ is asked for again, up to 9999, once the page has shown.
document.addEventListener("DOMContentLoaded", () => {
  const nav = document.querySelector(".quick-views[data-full-counts]");
  if (!nav || !nav.querySelector("[data-capped]")) return;
  fetch(nav.dataset.fullCounts, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : {}))
    .then((counts) => {
      nav.querySelectorAll("[data-quick-view]").forEach((span) => {
        const count = counts[span.dataset.quickView];
        if (count !== undefined) {
          span.textContent = count;
          span.removeAttribute("data-capped");
        }
      });
    })
    .catch(() => {}); // the capped counts stay: nothing is wrong with the page itself
});
