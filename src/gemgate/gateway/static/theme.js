// Sets the colour theme before the page paints: the saved choice, else the system's.
(function () {
  let saved = null;
  try {
    saved = localStorage.getItem("gemgate.theme");
  } catch (error) {
    // storage may be off (private windows): follow the system
  }
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = saved === "dark" || saved === "light" ? saved : dark ? "dark" : "light";
})();
