// camcloud settings page: while a capture-now is pending or the camera has not applied the
// desired settings, re-read the page now and then and swap in its status parts (never the form,
// which may hold half-typed values). The page works without this: a reload shows the same.
(() => {
  "use strict";

  const FIRST_WAIT_MS = 5000;
  const MAX_WAIT_MS = 60000; // a tab left open on an offline camera costs a GET a minute at most
  const PARTS = [".sync", "#commands"];

  const waiting = (root) =>
    root.querySelector('#commands [data-status="pending"]') !== null ||
    root.querySelector('.sync[data-drift="yes"]') !== null;

  let wait = FIRST_WAIT_MS;
  let timer = 0;

  const schedule = () => {
    clearTimeout(timer);
    if (!document.hidden && waiting(document)) timer = setTimeout(poll, wait);
  };

  const poll = async () => {
    try {
      const response = await fetch(window.location.pathname, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      let changed = false;
      for (const selector of PARTS) {
        const old = document.querySelector(selector);
        const replacement = fresh.querySelector(selector);
        if (old && replacement && old.innerHTML !== replacement.innerHTML) {
          old.replaceWith(document.adoptNode(replacement));
          changed = true;
        }
      }
      wait = changed ? FIRST_WAIT_MS : Math.min(MAX_WAIT_MS, Math.round(wait * 1.5));
    } catch {
      wait = MAX_WAIT_MS;
    }
    schedule();
  };

  document.addEventListener("visibilitychange", () => {
    wait = FIRST_WAIT_MS;
    schedule();
  });
  schedule();
})();
