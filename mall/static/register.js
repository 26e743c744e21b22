// Live "is this username taken" check on the registration form.
(function () {
  var script = document.currentScript;
  var input = document.getElementById("username");
  var help = document.getElementById("username-help");
  if (!input || !help) return;
  var url = script.getAttribute("data-check-url");
  var original = help.textContent;
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var value = input.value.trim();
    if (!value) { help.textContent = original; help.className = "help"; return; }
    timer = setTimeout(function () {
      fetch(url + "?username=" + encodeURIComponent(value), { headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (input.value.trim() !== value) return;
          help.textContent = data.message;
          help.className = "help " + (data.available ? "ok" : "bad");
        });
    }, 250);
  });
})();
