// Live availability check of a store address while the applicant types.
(function () {
  var input = document.getElementById("store_slug");
  var help = document.getElementById("store_slug-help");
  if (!input || !help) return;
  var url = input.getAttribute("data-check-url");
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var value = input.value.trim().toLowerCase();
    if (!value) return;
    timer = setTimeout(function () {
      fetch(url + "?slug=" + encodeURIComponent(value), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (input.value.trim().toLowerCase() !== value) return;
          help.textContent = data.message;
          help.className = "help " + (data.available ? "ok" : "bad");
        });
    }, 250);
  });
})();
