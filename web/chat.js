// The chat page: a session kept in this browser, turns streamed as Server-Sent Events over
// fetch (EventSource cannot POST or send a token), and a clear state for every way a turn can
// fail. Replies and sources are rendered by render.js, as text.
(function () {
  "use strict";
  const R = window.CymbalRender;
  const config = window.CYMBAL_CONFIG || {};
  const base = String((config.functions || {}).chat || "/chat").replace(/\/+$/, "");
  const STORAGE_KEY = "cymbal.chat.session";
  const $ = (id) => document.getElementById(id);
  const ui = {
    log: $("messages"),
    welcome: $("welcome"),
    form: $("composer"),
    input: $("message"),
    send: $("send"),
    stop: $("stop"),
    counter: $("counter"),
    status: $("status"),
    notice: $("notice"),
    noticeText: $("notice-text"),
    noticeAction: $("notice-action"),
    reset: $("new-conversation"),
  };
  const maxChars = Number(ui.input.getAttribute("maxlength")) || 2000;
  let session = load();
  let busy = false;
  let blockedUntil = 0;
  let abort = null;

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  // -- the session, kept in localStorage so a reload (or a new tab) resumes it --------------
  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      return saved && saved.session_id && saved.token ? saved : null;
    } catch (error) {
      return null;
    }
  }

  function save(value) {
    session = value;
    if (value) localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
    else localStorage.removeItem(STORAGE_KEY);
  }

  async function call(method, path, { body, accept = "application/json", signal } = {}) {
    const headers = { Accept: accept };
    if (session && path !== "/sessions") headers.Authorization = `Bearer ${session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "unreachable", "The assistant could not be reached. Check your connection and try again.");
    }
    if (!response.ok) throw await failure(response);
    return response;
  }

  async function failure(response) {
    let detail = {};
    try {
      detail = (await response.json()).error || {};
    } catch (error) {
      // not our JSON error body (a proxy's page): the status says enough
    }
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    return new ApiError(
      response.status,
      detail.code || `http_${response.status}`,
      detail.message || `The assistant answered with an error (${response.status}).`,
      Number.isFinite(retry) ? retry : null,
    );
  }

  const path = (suffix = "") => `/sessions/${encodeURIComponent(session.session_id)}${suffix}`;

  async function createSession() {
    const created = await (await call("POST", "/sessions")).json();
    save({ session_id: created.session_id, token: created.token, expires_at: created.expires_at });
  }

  // -- the conversation on screen -----------------------------------------------------------
  function addMessage(role, text, when) {
    ui.welcome.hidden = true;
    const item = R.el("div", `message message-${role}`);
    item.dataset.role = role;
    const who = R.el("span", "visually-hidden", role === "user" ? "You said:" : "Assistant:");
    const body = R.el("div", "bubble");
    if (role === "user") body.append(R.el("p", "user-text", text));
    else body.append(R.el("div", "reply-text"));
    item.append(who, body);
    if (when) item.title = new Date(when).toLocaleString();
    ui.log.append(item);
    if (role === "assistant" && text) setReply(item, text);
    scrollDown();
    return item;
  }

  function setReply(item, text) {
    item.querySelector(".reply-text").replaceChildren(R.richText(text));
  }

  function addExtras(item, parts) {
    const bubble = item.querySelector(".bubble");
    bubble.querySelectorAll(".sources, .marks").forEach((n) => n.remove());
    parts.filter(Boolean).forEach((part) => bubble.append(part));
  }

  function addNote(item, text) {
    item.querySelector(".bubble").append(R.el("p", "turn-note", text));
  }

  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function renderHistory(messages) {
    ui.log.querySelectorAll(".message").forEach((n) => n.remove());
    ui.welcome.hidden = messages.length > 0;
    messages.forEach((m) => {
      const item = addMessage(m.role === "user" ? "user" : "assistant", m.content, m.created_at);
      if (m.role !== "user") addExtras(item, [R.sources(m.sources)]);
    });
  }

  // -- notices: errors, rate limits, an expired session ------------------------------------
  function showNotice(kind, text, action) {
    ui.notice.dataset.kind = kind;
    ui.noticeText.textContent = text;
    ui.noticeAction.hidden = !action;
    if (action) {
      ui.noticeAction.textContent = action.label;
      ui.noticeAction.onclick = action.run;
    }
    ui.notice.hidden = false;
    document.body.dataset.state = kind === "info" ? document.body.dataset.state : kind;
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.notice.dataset.kind = "";
  }

  function expired() {
    save(null);
    showNotice("expired", "This conversation has expired, so the assistant no longer remembers it.", {
      label: "Start a new conversation",
      run: () => startOver(false),
    });
  }

  function rateLimited(seconds) {
    blockedUntil = Date.now() + Math.max(1, seconds || 10) * 1000;
    const tick = () => {
      const left = Math.ceil((blockedUntil - Date.now()) / 1000);
      if (left <= 0) {
        blockedUntil = 0;
        hideNotice();
        document.body.dataset.state = "idle";
        update();
        return;
      }
      showNotice("rate-limited", `You're sending messages faster than we can answer. You can send again in ${left} s.`);
      update();
      setTimeout(tick, 1000);
    };
    tick();
  }

  function explain(error, text) {
    if (error.status === 429) {
      rateLimited(error.retryAfter);
    } else if (error.status === 401 || error.status === 404) {
      expired();
    } else {
      const again = () => {
        if (ui.input.value.trim() === text) ui.input.value = "";
        submit(text);
      };
      showNotice("error", error.message, text ? { label: "Try again", run: again } : null);
    }
  }

  // -- a turn ---------------------------------------------------------------------------
  function update() {
    const text = ui.input.value.trim();
    const blocked = blockedUntil > Date.now();
    ui.send.disabled = busy || blocked || !text;
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    const left = maxChars - ui.input.value.length;
    ui.counter.textContent = left <= maxChars * 0.2 ? `${left} characters left` : "";
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  }

  function setBusy(value) {
    busy = value;
    document.body.dataset.state = value ? "streaming" : ui.notice.hidden ? "idle" : document.body.dataset.state;
    ui.log.setAttribute("aria-busy", String(value));
    update();
  }

  async function submit(text) {
    if (busy || !text || blockedUntil > Date.now()) return;
    hideNotice();
    setBusy(true);
    const asked = addMessage("user", text);
    const answer = addMessage("assistant", "");
    answer.classList.add("pending");
    ui.status.textContent = "The assistant is answering…";
    abort = new AbortController();
    let reply = "";
    let finished = false;
    try {
      if (!session) await createSession();
      const response = await call("POST", path("/messages"), {
        body: { message: text },
        accept: "text/event-stream",
        signal: abort.signal,
      });
      await readEvents(response.body, (event, data) => {
        if (event === "meta") {
          addExtras(answer, [R.sources(data.sources)]);
        } else if (event === "delta") {
          answer.classList.remove("pending");
          reply += data.text || "";
          setReply(answer, reply);
          scrollDown();
        } else if (event === "done") {
          finished = true;
          reply = data.reply || reply;
          answer.classList.remove("pending");
          setReply(answer, reply);
          addExtras(answer, [R.sources(data.sources), R.marks(data)]);
          answer.dataset.intent = data.intent || "";
        } else if (event === "error") {
          throw new ApiError(500, data.code || "error", data.message || "The answer failed.");
        }
      });
      if (!finished) throw new ApiError(0, "cut", "The connection closed before the answer was complete.");
      ui.status.textContent = "Answer received.";
    } catch (caught) {
      // A fault of this page's own (not the server's answer) gets a plain message, not its text.
      const error =
        caught instanceof ApiError || caught.name === "AbortError"
          ? caught
          : new ApiError(0, "page_error", "Something went wrong on this page. Reload it and try again.");
      answer.classList.remove("pending");
      if (error.name === "AbortError") {
        addNote(answer, "Stopped.");
      } else if (reply) {
        addNote(answer, `The answer was cut short: ${error.message}`);
      } else {
        answer.remove();
        asked.classList.add("unsent");
        asked.querySelector(".bubble").append(R.el("p", "turn-note", "Not sent."));
        if (!ui.input.value) ui.input.value = text;
        explain(error, error.status >= 500 || error.status === 0 ? text : null);
      }
      ui.status.textContent = "";
    } finally {
      abort = null;
      setBusy(false);
      scrollDown();
      ui.input.focus();
    }
  }

  // Server-Sent Events from a fetch body: "event:" and "data:" lines, blank-line separated.
  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const dispatch = (block) => {
      let event = "message";
      const data = [];
      block.split(/\r?\n/).forEach((line) => {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(event, JSON.parse(data.join("\n")));
    };
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r?\n\r?\n/);
      buffer = blocks.pop();
      blocks.forEach(dispatch);
      if (done) break;
    }
    if (buffer.trim()) dispatch(buffer);
  }

  // -- start, resume, start over ------------------------------------------------------------
  async function resume() {
    if (!session) return;
    document.body.dataset.state = "loading";
    try {
      const resumed = await (await call("POST", path("/resume"))).json();
      save({ ...session, expires_at: resumed.expires_at });
      const history = await (await call("GET", path())).json();
      renderHistory(history.messages || []);
      document.body.dataset.state = "idle";
    } catch (error) {
      if (error.status === 401 || error.status === 404) {
        save(null);
        showNotice("info", "Your last conversation has expired; this is a new one.");
        document.body.dataset.state = "idle";
      } else {
        showNotice("error", error.message, { label: "Try again", run: resume });
      }
    }
  }

  async function startOver(forget) {
    if (busy) return;
    const old = session;
    save(null);
    renderHistory([]);
    hideNotice();
    document.body.dataset.state = "idle";
    if (forget && old) {
      // Forget it on the server too; the page has already moved on if that fails.
      fetch(`${base}/sessions/${encodeURIComponent(old.session_id)}`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${old.token}` },
        credentials: "omit",
      }).catch(() => {});
    }
    update();
    ui.input.focus();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value.trim();
    if (!text || busy) return;
    ui.input.value = "";
    update();
    submit(text);
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    } else if (event.key === "Escape" && abort) {
      abort.abort();
    }
  });
  ui.input.addEventListener("input", update);
  ui.stop.addEventListener("click", () => abort && abort.abort());
  ui.reset.addEventListener("click", () => startOver(true));
  document.querySelectorAll(".suggestion").forEach((button) =>
    button.addEventListener("click", () => submit(button.textContent)),
  );

  update();
  // Ready to type at once, except on touch screens, where focus would pop the keyboard up.
  if (window.matchMedia("(pointer: fine)").matches) ui.input.focus();
  resume();
})();
