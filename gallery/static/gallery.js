// camcloud gallery: lightbox, presigned-link upkeep, self-healing images, live view.
// Plain JavaScript, no dependencies; every page works without it (links and forms are real).
(() => {
  "use strict";

  const body = document.body;
  const REFRESH_LEAD_S = 90; // refresh links this long before they expire
  const MAX_HEALS = 3;

  const getJSON = async (url) => {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (response.status === 401) {
      // The session ended: the login page will bring the user back here.
      window.location.reload();
      throw new Error("login required");
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };

  const urlFor = (info, kind) => (kind === "preview" ? info.preview : info.thumb);

  // ---- presigned links: refresh before they expire -------------------------------------------
  let refreshTimer = 0;

  const applyLinks = (captures) => {
    for (const [id, info] of Object.entries(captures)) {
      for (const el of document.querySelectorAll(`[data-capture="${CSS.escape(id)}"]`)) {
        if (el.tagName === "IMG" && !el.classList.contains("failed")) {
          el.src = urlFor(info, el.dataset.kind);
        } else if (el.dataset.preview) {
          el.dataset.preview = info.preview;
        }
      }
    }
  };

  const refreshLinks = async () => {
    const ids = [...new Set([...document.querySelectorAll("img[data-capture], li[data-capture]")]
      .map((el) => el.dataset.capture).filter(Boolean))];
    let expires = 0;
    for (let i = 0; i < ids.length; i += 100) {
      const query = ids.slice(i, i + 100).map((id) => `id=${encodeURIComponent(id)}`).join("&");
      const answer = await getJSON(`/api/links?${query}`);
      applyLinks(answer.captures);
      expires = answer.expires_at;
    }
    if (expires) body.dataset.expires = String(expires);
    scheduleRefresh();
  };

  const secondsLeft = () => Number(body.dataset.expires || 0) - Date.now() / 1000;

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    if (!body.dataset.expires || body.dataset.live) return;
    const delay = Math.max(5, secondsLeft() - REFRESH_LEAD_S);
    refreshTimer = setTimeout(() => refreshLinks().catch(() => scheduleRefresh()), delay * 1000);
  }

  // Timers sleep with the phone; on waking, links may be about to expire.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && body.dataset.expires &&
        secondsLeft() < REFRESH_LEAD_S) {
      refreshLinks().catch(() => scheduleRefresh());
    }
  });

  // ---- images that fail ask for a fresh URL (and learn why) ----------------------------------
  const markFailed = (img, status, message) => {
    img.classList.add("failed");
    const note = document.createElement("span");
    note.className = `image-problem ${status}`;
    note.setAttribute("role", "status");
    note.textContent = status === "error" ? `⚠ Corrupt image: ${message || "cannot be decoded"}`
      : status === "gone" ? "This capture was deleted"
        : status === "processing" ? "Still being processed…" : "Image unavailable";
    img.replaceWith(note);
    note.dataset.capture = img.dataset.capture;
    const tile = note.closest(".tile");
    if (tile) tile.classList.add(`tile-${status}`);
  };

  const heal = async (img) => {
    if (img.dataset.healing || !img.dataset.capture) return;
    const tries = Number(img.dataset.tries || 0);
    img.dataset.healing = "1";
    img.dataset.tries = String(tries + 1);
    try {
      const info = await getJSON(`/api/capture/${encodeURIComponent(img.dataset.capture)}/check`);
      if (info.status === "ok" && tries < MAX_HEALS) {
        img.src = urlFor(info, img.dataset.kind);
      } else if (info.status === "processing" && tries < MAX_HEALS) {
        setTimeout(() => { img.src = urlFor(info, img.dataset.kind); }, 2000 * (tries + 1));
      } else {
        markFailed(img, info.status === "ok" ? "unavailable" : info.status, info.error);
      }
    } catch (error) {
      if (tries >= MAX_HEALS) markFailed(img, "unavailable");
      else setTimeout(() => heal(img), 3000);
    } finally {
      delete img.dataset.healing;
    }
  };

  document.addEventListener("error", (event) => {
    const img = event.target;
    if (img instanceof HTMLImageElement && img.dataset.capture && img.getAttribute("src")) heal(img);
  }, true);

  const healBroken = () => {
    for (const img of document.querySelectorAll("img[data-capture]")) {
      // Failed before this script ran: the error event was missed.
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) heal(img);
    }
  };

  // ---- lightbox ------------------------------------------------------------------------------
  const dialog = document.getElementById("lightbox");
  let current = null;

  const tiles = () => [...document.querySelectorAll("li.tile")];

  const loadPanel = async (tile) => {
    const panel = dialog.querySelector(".lb-panel");
    panel.setAttribute("aria-busy", "true");
    const back = window.location.pathname + window.location.search;
    try {
      const response = await fetch(
        `/capture/${encodeURIComponent(tile.dataset.capture)}/panel?next=${encodeURIComponent(back)}`,
        { credentials: "same-origin" },
      );
      if (response.status === 401) { window.location.reload(); return; }
      if (current !== tile) return; // the user moved on meanwhile
      panel.innerHTML = response.ok ? await response.text()
        : '<p class="capture-error" role="alert">This capture is gone or still being processed.</p>';
    } catch (error) {
      panel.textContent = "Could not load the details; check the connection.";
    } finally {
      panel.removeAttribute("aria-busy");
    }
  };

  const show = (tile) => {
    current = tile;
    const image = dialog.querySelector(".lb-image");
    const thumb = tile.querySelector("img");
    image.classList.remove("failed");
    delete image.dataset.tries;
    image.dataset.capture = tile.dataset.capture;
    image.alt = thumb ? thumb.alt : "Capture";
    image.src = tile.dataset.preview;
    const list = tiles();
    const index = list.indexOf(tile);
    dialog.querySelector(".lb-prev").disabled = index <= 0;
    dialog.querySelector(".lb-next").disabled = index >= list.length - 1 && !olderLink();
    dialog.dataset.capture = tile.dataset.capture;
    loadPanel(tile);
  };

  const OPEN_FIRST = "#lightbox-first";
  const olderLink = () => document.querySelector("a.older");

  const step = (delta) => {
    if (!current) return;
    const list = tiles();
    const next = list[list.indexOf(current) + delta];
    if (next) {
      show(next);
    } else if (delta > 0 && olderLink()) {
      // Past the last capture of the page: carry on into the older page's lightbox.
      window.location.assign(olderLink().href + OPEN_FIRST);
    }
  };

  if (dialog) {
    // The preview <img> may be replaced by a problem note; put a fresh one back when stepping.
    const ensureImage = () => {
      if (!dialog.querySelector(".lb-image")) {
        const img = document.createElement("img");
        img.className = "lb-image";
        img.dataset.kind = "preview";
        dialog.querySelector(".lb-stage").prepend(img);
        dialog.querySelector(".lb-stage .image-problem")?.remove();
      }
    };
    const open = (tile) => {
      ensureImage();
      show(tile);
      if (!dialog.open) dialog.showModal();
      dialog.querySelector(".lb-close").focus();
    };
    if (window.location.hash === OPEN_FIRST && tiles().length) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
      open(tiles()[0]);
    }
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.tile-link");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      open(link.closest("li.tile"));
    });
    dialog.querySelector(".lb-prev").addEventListener("click", () => { ensureImage(); step(-1); });
    dialog.querySelector(".lb-next").addEventListener("click", () => { ensureImage(); step(1); });
    dialog.querySelector(".lb-close").addEventListener("click", () => dialog.close());
    dialog.addEventListener("keydown", (event) => {
      if (event.target.closest && event.target.closest("input, textarea, select")) return;
      if (event.key === "ArrowLeft") { event.preventDefault(); ensureImage(); step(-1); }
      if (event.key === "ArrowRight") { event.preventDefault(); ensureImage(); step(1); }
    });
    // A click on the backdrop (outside the dialog's box) closes it.
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    dialog.addEventListener("close", () => {
      const link = current && current.isConnected ? current.querySelector("a.tile-link") : null;
      if (link) link.focus(); // back where the user was
    });
    let touchX = null;
    dialog.addEventListener("touchstart", (event) => {
      touchX = event.changedTouches[0].clientX;
    }, { passive: true });
    dialog.addEventListener("touchend", (event) => {
      if (touchX === null) return;
      const dx = event.changedTouches[0].clientX - touchX;
      touchX = null;
      if (Math.abs(dx) > 50) { ensureImage(); step(dx < 0 ? 1 : -1); }
    }, { passive: true });
  }

  // ---- delete --------------------------------------------------------------------------------
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList.contains("delete-form")) return;
    const question = form.dataset.confirm
      || "Delete this capture? The original, thumbnail and preview are removed.";
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (!dialog || !dialog.open || !current) return; // a plain POST from the capture page
    event.preventDefault();
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      form.insertAdjacentHTML("beforeend",
        '<p class="capture-error" role="alert">Delete failed; reload the page and try again.</p>');
      return;
    }
    const gone = current;
    const list = tiles();
    const index = list.indexOf(gone);
    const next = list[index + 1] || list[index - 1];
    const section = gone.closest("section.day");
    gone.remove();
    if (section && !section.querySelector("li.tile")) section.remove();
    if (next) show(next); else { current = null; dialog.close(); }
  });

  // ---- live view -----------------------------------------------------------------------------
  const LIVE_EVERY_S = 10;
  const live = async () => {
    const device = body.dataset.live;
    try {
      const info = await getJSON(`/api/camera/${encodeURIComponent(device)}/latest`);
      const figure = document.querySelector("figure.live");
      let img = figure.querySelector("img.live-image");
      if (info.id) {
        if (!img) {
          img = document.createElement("img");
          img.className = "live-image";
          img.dataset.kind = "preview";
          figure.querySelector(".image-problem")?.remove();
          figure.prepend(img);
        }
        img.alt = `Newest capture of ${device}`;
        if (img.dataset.capture !== info.id || secondsLeft() < REFRESH_LEAD_S) {
          img.dataset.capture = info.id;
          delete img.dataset.tries;
          img.src = info.preview;
          img.hidden = false;
        }
        body.dataset.expires = String(info.expires_at);
        const caption = figure.querySelector("figcaption");
        caption.replaceChildren();
        const time = document.createElement("time");
        time.dateTime = info.captured_at;
        time.textContent = info.captured_label;
        caption.append(time, ` · ${info.age}`);
      }
    } catch (error) {
      // Offline for a moment: try again on the next tick.
    }
    setTimeout(live, LIVE_EVERY_S * 1000);
  };

  healBroken();
  scheduleRefresh();
  if (body.dataset.live) setTimeout(live, LIVE_EVERY_S * 1000);
})();
