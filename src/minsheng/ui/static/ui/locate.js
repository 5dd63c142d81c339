/* "Use my location" on the portal's submit form: fills the hidden latitude/longitude fields
 * with the phone's position, after the browser asks the citizen. Progressive enhancement: the
 * box stays hidden where there is no geolocation (or no JavaScript) and the form works as is.
 * Messages come from data-msg-* attributes, so they are translated with the page. */
(function () {
  "use strict";
  var box = document.querySelector("[data-locate]");
  if (!box || !("geolocation" in navigator)) return;
  var form = box.closest("form");
  var lat = form.querySelector("input[name=latitude]");
  var lng = form.querySelector("input[name=longitude]");
  var find = box.querySelector("[data-locate-button]");
  var clear = box.querySelector("[data-locate-clear]");
  var status = box.querySelector("[data-locate-status]");
  var msg = box.dataset;

  function set(latitude, longitude, message) {
    lat.value = latitude;
    lng.value = longitude;
    clear.hidden = !latitude;
    status.textContent = message;
  }

  box.hidden = false;
  if (lat.value && lng.value) set(lat.value, lng.value, msg.msgKept);

  find.addEventListener("click", function () {
    find.disabled = true;
    status.textContent = msg.msgWorking;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var c = position.coords;
        set(c.latitude.toFixed(6), c.longitude.toFixed(6),
            msg.msgDone.replace("%(metres)s", String(Math.round(c.accuracy))));
        find.disabled = false;
      },
      function (error) {
        set("", "", error.code === 1 ? msg.msgDenied : msg.msgFailed);
        find.disabled = false;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });

  clear.addEventListener("click", function () {
    set("", "", msg.msgCleared);
    find.focus();
  });
})();
