// Fast style picker: clicking a style's preview picks that style; with "Blend" on, a click adds the
// style to the blend text (weight 1, to edit) or takes it out again. The form fields stay the truth
// (the server validates them); this only fills them in and shows what they say.
(function () {
  "use strict";
  const picker = document.getElementById("style-picker");
  const select = document.getElementById("id_style");
  const blend = document.getElementById("id_blend");
  const blendMode = document.getElementById("blend-mode");
  if (!picker || !select || !blend || !blendMode) return;
  const buttons = Array.from(picker.querySelectorAll(".style-pick"));
  const key = (name) => name.trim().split(/\s+/).join(" ").toLowerCase(); // as the server matches

  // The blend text as [name, weight text] pairs, in the order written; a bare name weighs 1.
  function readBlend() {
    return blend.value.split(",").map((item) => item.trim()).filter(Boolean).map((item) => {
      const at = item.indexOf("=");
      return at < 0 ? [item, "1"] : [item.slice(0, at).trim(), item.slice(at + 1).trim()];
    });
  }

  function writeBlend(pairs) {
    blend.value = pairs.map(([name, weight]) => name + "=" + weight).join(", ");
  }

  function show() {
    const pairs = blend.value.trim() ? readBlend() : [];
    const weights = new Map(pairs.map(([name, weight]) => [key(name), Number(weight)]));
    const total = Array.from(weights.values()).filter((w) => w > 0).reduce((a, b) => a + b, 0);
    for (const button of buttons) {
      const name = key(button.dataset.style);
      const share = button.querySelector(".style-share");
      const picked = pairs.length ? weights.has(name) : key(select.value) === name;
      button.setAttribute("aria-pressed", picked ? "true" : "false");
      const w = weights.get(name);
      share.hidden = !(pairs.length && picked && total > 0 && w >= 0);
      if (!share.hidden) share.textContent = Math.round((100 * w) / total) + " %";
    }
  }

  function pick(name) {
    if (blendMode.checked) {
      const pairs = readBlend();
      const at = pairs.findIndex(([n]) => key(n) === key(name));
      if (at >= 0) pairs.splice(at, 1);
      else pairs.push([name, "1"]);
      writeBlend(pairs);
      select.value = "";
    } else {
      select.value = name;
      blend.value = "";
    }
    show();
  }

  for (const button of buttons) button.addEventListener("click", () => pick(button.dataset.style));
  select.addEventListener("change", () => {
    if (select.value) blend.value = "";
    show();
  });
  blend.addEventListener("input", () => {
    if (blend.value.trim()) select.value = "";
    show();
  });
  blendMode.addEventListener("change", () => {
    if (blendMode.checked) {
      // The blend is now the style: it starts empty (the select's first style was only a default)
      // and each click adds one.
      if (!blend.value.trim()) select.value = "";
    } else if (blend.value.trim()) {
      // Back to one style: the blend's first.
      const first = buttons.find((b) => readBlend().some(([n]) => key(n) === key(b.dataset.style)));
      if (first) select.value = first.dataset.style;
      blend.value = "";
    }
    show();
  });
  blendMode.checked = Boolean(blend.value.trim()); // e.g. the form came back with an error
  show();
})();
