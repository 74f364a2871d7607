// The frame of every lesson page, kept out of the way: the list of lessons, `show()` to print a line,
// `latency()` for the clock's messages, and the listing of the page's own technique script.
// The technique itself lives in each page's <script id="technique">, with nothing hidden here.
"use strict";

const LESSONS = [
  ["short-poll", "Short polling"],
  ["long-poll", "Long polling"],
  ["xhr-stream", "XHR streaming"],
  ["iframe", "Iframe streaming"],
  ["jsonp", "JSONP"],
  ["sse", "Server-Sent Events"],
  ["websocket", "WebSocket"],
];

/** Prints one line in the output box, newest at the bottom; keeps the last 200. */
function show(text) {
  const box = document.getElementById("output");
  box.textContent += new Date().toISOString().slice(11, 23) + "  " + text + "\n";
  const lines = box.textContent.split("\n");
  if (lines.length > 201) box.textContent = lines.slice(-201).join("\n");
  box.scrollTop = box.scrollHeight;
}

/** The clock topic's data is the JSON text {"now_ms": <server time>}: how old is it now? */
function latency(data) {
  try {
    return (Date.now() - JSON.parse(data).now_ms) + " ms";
  } catch (e) {
    return "(not a clock message)";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const here = location.pathname.split("/").pop().replace(".html", "");
  const nav = document.getElementById("lessons");
  for (const [file, title] of LESSONS) {
    const link = document.createElement("a");
    link.href = file + ".html";
    link.textContent = title;
    if (file === here) link.setAttribute("aria-current", "page");
    nav.appendChild(link);
  }
  // The listing is the very script that runs on the page, so it cannot drift from it.
  document.getElementById("source").textContent =
    document.getElementById("technique").textContent.replace(/^\n+|\s+$/g, "");
});
