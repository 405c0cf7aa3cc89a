// camcloud gallery, time-lapse page: follows a background job (time-lapse range, export) by
// polling its small JSON endpoint while the tab is visible, and reloads the page for fresh
// video links shortly before the presigned ones expire (never while a video plays).
(() => {
  "use strict";

  const POLL_MS = 1500;
  const LEAD_S = 60;
  const expires = Number(document.body.dataset.linksExpire || 0);
  const playing = () => [...document.querySelectorAll("video")].some((v) => !v.paused);
  const renewLinks = () => {
    if (!expires || document.hidden) return;
    const left = expires - Date.now() / 1000;
    if (left > LEAD_S) setTimeout(renewLinks, (left - LEAD_S) * 1000);
    else if (playing()) setTimeout(renewLinks, 10_000);
    else window.location.reload();
  };
  document.addEventListener("visibilitychange", renewLinks);
  renewLinks();

  const box = document.querySelector("[data-job-url]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const state = box.querySelector(".job-state");
  const result = box.querySelector(".job-result");
  let timer = 0;

  const show = (job) => {
    bar.value = job.percent;
    state.textContent = job.state === "running" && job.total
      ? `frame ${job.done} of ${job.total}` : job.state;
    if (job.state === "failed") {
      result.textContent = job.error || "the job failed";
      result.className = "job-result capture-error";
    } else if (job.state === "done" && job.kind === "export" && job.url) {
      const link = document.createElement("a");
      link.href = job.url;
      link.className = "button";
      link.textContent = "Download the ZIP";
      result.replaceChildren(link);
    } else if (job.state === "done") {
      // The new video is in the list now: show it.
      const url = new URL(window.location.href);
      url.searchParams.delete("job");
      window.location.replace(url.toString());
    }
  };

  const poll = async () => {
    timer = 0;
    if (document.hidden) return; // resumed by visibilitychange
    try {
      const response = await fetch(box.dataset.jobUrl, {
        headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) { window.location.reload(); return; }
      const job = await response.json();
      if (!response.ok) { state.textContent = job.message || `HTTP ${response.status}`; return; }
      show(job);
      if (job.finished) return;
    } catch (error) {
      state.textContent = "waiting for the gallery…";
    }
    timer = setTimeout(poll, POLL_MS);
  };

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !timer) poll();
  });
  poll();
})();
