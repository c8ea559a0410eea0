import "./style.css";

// The API base URL is resolved at build time from one variable name (same origin by default).
const API = import.meta.env.{{ cookiecutter.frontend_api_url_var }} || "/api";

async function getJSON(path, options) {
  const response = await fetch(`${API}${path}`, options);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function refresh() {
  const health = document.getElementById("health");
  try {
    const status = await getJSON("/health/");
    health.textContent = `${status.status} (TimescaleDB ${status.timescaledb})`;
    const { readings } = await getJSON("/readings/");
    const list = document.getElementById("readings");
    list.replaceChildren(...readings.map((r) => Object.assign(document.createElement("li"), { textContent: `${r.time}: ${r.value}` })));
  } catch (error) {
    health.textContent = `unavailable: ${error.message}`;
  }
}

// Writes need a signed-in session (/admin/login/) and Django's CSRF token, sent back from its cookie.
function csrfToken() {
  return document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] ?? "";
}

document.getElementById("add").addEventListener("click", async () => {
  try {
    await getJSON("/readings/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ value: Math.round(Math.random() * 1000) / 10 }),
    });
  } catch (error) {
    document.getElementById("health").textContent = `not added (sign in at /admin/ first): ${error.message}`;
    return;
  }
  await refresh();
});

refresh();
