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
