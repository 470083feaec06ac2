// A demonstration statistics script: it runs only after a visitor accepts statistics
// cookies, and counts that browser's visits in a first-party cookie declared in the
// demo's configuration.
(function () {
  "use strict";
  var match = document.cookie.match(/(?:^|; )northmoor_visits=(\d+)/);
  var visits = match ? parseInt(match[1], 10) + 1 : 1;
  document.cookie = "northmoor_visits=" + visits + "; path=/; max-age=" + 30 * 86400 + "; samesite=lax";
  document.documentElement.setAttribute("data-visit-counter", String(visits));
})();
