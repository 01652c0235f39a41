// The chat page: a session kept in this browser, turns streamed as Server-Sent Events over
// fetch (EventSource cannot POST or send a token), and a clear state for every way a turn can
// fail. Replies and sources are rendered by render.js, as text.
(function () {
  "use strict";
  const R = window.CymbalRender;
  const config = window.CYMBAL_CONFIG || {};
  const base = String((config.functions || {}).chat || "/chat").replace(/\/+$/, "");
  const STORAGE_KEY = "cymbal.chat.session";
  const CUT = "The connection closed before the answer was complete.";
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
    suggestions: Array.from(document.querySelectorAll(".suggestion")),
  };
  const maxChars = Number(ui.input.getAttribute("maxlength")) || 2000;
  const touch = window.matchMedia("(pointer: coarse)").matches;
  let session = load();
  let busy = false; // a turn is streaming
  let loading = false; // the stored conversation is being read
  let blockedUntil = 0; // rate limited until then (ms since the epoch)
  let abort = null;
  let following = true; // keep the newest message in view, until the reader scrolls up

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  // An `error` event's code, as the status the same error has as a response: server faults
  // may be retried, anything else (a bad request, say) may not.
  const EVENT_STATUS = { unauthorized: 401, not_found: 404, rate_limited: 429, internal: 500, unavailable: 503 };

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
      if (error.name === "AbortError") throw error; // Stop while the error body was read
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
    follow();
    return item;
  }

  // A reply's text; it may link only to its own sources' addresses (`item.links`).
  function setReply(item, text) {
    item.querySelector(".reply-text").replaceChildren(R.richText(text, item.links));
  }

  function setSources(item, sources) {
    item.links = R.links(sources);
    addExtras(item, [R.sources(sources)]);
  }

  function addExtras(item, parts) {
    const bubble = item.querySelector(".bubble");
    bubble.querySelectorAll(".sources, .marks").forEach((n) => n.remove());
    parts.filter(Boolean).forEach((part) => bubble.append(part));
  }

  function addNote(item, text) {
    item.querySelector(".bubble").append(R.el("p", "turn-note", text));
  }

  // A growing reply (and its cards) is followed only while the reader stays at the end of the
  // conversation: scrolling up to read stops it, scrolling back down (or sending) resumes it.
  function nearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
  }

  function follow() {
    if (following) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function renderHistory(messages) {
    ui.log.querySelectorAll(".message").forEach((n) => n.remove());
    ui.welcome.hidden = messages.length > 0;
    messages.forEach((m) => {
      if (m.role === "user") {
        addMessage("user", m.content, m.created_at);
        return;
      }
      const item = addMessage("assistant", "", m.created_at);
      setSources(item, m.sources);
      setReply(item, m.content);
    });
    following = true;
    follow();
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
    if (kind !== "info") document.body.dataset.state = kind;
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

  // Said once (the notice is an alert); the seconds then count down on the Send button, which
  // screen readers do not re-announce each second.
  function rateLimited(seconds) {
    const wait = Math.max(1, seconds || 10);
    blockedUntil = Date.now() + wait * 1000;
    showNotice("rate-limited", `You're sending messages faster than we can answer. You can send again in ${wait} s.`);
    const tick = () => {
      if (Date.now() >= blockedUntil) {
        blockedUntil = 0;
        hideNotice();
        document.body.dataset.state = "idle";
        ui.status.textContent = "You can send messages again.";
      } else {
        setTimeout(tick, 1000);
      }
      update();
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
      showNotice("error", error.message, error.status >= 500 || error.status === 0 ? { label: "Try again", run: again } : null);
    }
  }

  // -- a turn ---------------------------------------------------------------------------
  const blocked = () => blockedUntil > Date.now();

  function update() {
    const text = ui.input.value.trim();
    const wait = Math.ceil((blockedUntil - Date.now()) / 1000);
    ui.send.disabled = busy || loading || wait > 0 || !text;
    ui.send.textContent = wait > 0 ? `Wait ${wait} s` : "Send";
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    ui.reset.disabled = busy || loading;
    ui.suggestions.forEach((b) => (b.disabled = busy || loading || wait > 0));
    const left = maxChars - ui.input.value.length;
    ui.counter.textContent = left <= maxChars * 0.2 ? `${left} characters left` : "";
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  }

  function setBusy(value) {
    const hadFocus = document.activeElement;
    busy = value;
    document.body.dataset.state = value ? "streaming" : ui.notice.hidden ? "idle" : document.body.dataset.state;
    ui.log.setAttribute("aria-busy", String(value));
    update();
    // A control that is now hidden or disabled (Send, Stop, a suggestion, the notice's button)
    // must not drop keyboard focus on <body>.
    const lost =
      !hadFocus || hadFocus === document.body || hadFocus.offsetParent === null || hadFocus.disabled;
    if (value && lost) ui.stop.focus();
    // Back to the box on a desktop; on a touch screen to the conversation, which does not open
    // the keyboard.
    if (!value && (lost || hadFocus === ui.stop)) (touch ? ui.log : ui.input).focus();
  }

  async function submit(text) {
    if (busy || loading || !text || blocked()) return false;
    abort = new AbortController();
    const signal = abort.signal;
    // The request leaves first; the page draws the turn while the server works on it.
    const request = (async () => {
      if (!session) await createSession();
      return call("POST", path("/messages"), {
        body: { message: text },
        accept: "text/event-stream",
        signal,
      });
    })();
    hideNotice();
    setBusy(true);
    following = true;
    const asked = addMessage("user", text);
    const answer = addMessage("assistant", "");
    answer.classList.add("pending");
    ui.status.textContent = "The assistant is answering…";
    let reply = "";
    let shown = null; // the sources drawn, as sent
    let finished = false;
    try {
      const response = await request;
      await readEvents(response.body, (event, data) => {
        if (event === "meta") {
          shown = JSON.stringify(data.sources || []);
          setSources(answer, data.sources);
        } else if (event === "delta") {
          answer.classList.remove("pending");
          reply += data.text || "";
          setReply(answer, reply);
        } else if (event === "done") {
          finished = true;
          answer.classList.remove("pending");
          answer.dataset.intent = data.intent || "";
          if (JSON.stringify(data.sources || []) !== shown) setSources(answer, data.sources);
          if (typeof data.reply === "string") reply = data.reply;
          setReply(answer, reply); // the final text, with the links its sources allow
          const marks = R.marks(data);
          if (marks) answer.querySelector(".bubble").append(marks);
          follow();
          return true; // nothing may follow `done`: stop reading
        } else if (event === "error") {
          const status = EVENT_STATUS[data.code] || 400;
          throw new ApiError(status, data.code || "error", data.message || "The answer failed.");
        }
        follow();
        return false;
      });
      if (!finished) throw new ApiError(0, "cut", CUT);
      ui.status.textContent = "Answer received.";
    } catch (caught) {
      // A fault of this page's own (not the server's answer) gets a plain message, not its text.
      const error =
        caught instanceof ApiError || caught.name === "AbortError"
          ? caught
          : new ApiError(0, "page_error", "Something went wrong on this page. Reload it and try again.");
      answer.classList.remove("pending");
      if (finished) {
        // The answer was whole: what broke after `done` (or a late Stop) changes nothing.
      } else if (error.name === "AbortError") {
        addNote(answer, "Stopped.");
      } else if (reply || shown !== null) {
        // The server took the question (its `meta` came): keep the turn, never send it twice.
        addNote(answer, `${reply ? "The answer was cut short" : "No answer"}: ${error.message}`);
        if (error.status === 401 || error.status === 404 || error.status === 429) explain(error, null);
      } else {
        answer.remove();
        asked.classList.add("unsent");
        asked.querySelector(".bubble").append(R.el("p", "turn-note", "Not sent."));
        if (!ui.input.value) ui.input.value = text;
        explain(error, text);
      }
      ui.status.textContent = finished ? "Answer received." : "";
    } finally {
      abort = null;
      setBusy(false);
    }
    return true;
  }

  // Server-Sent Events from a fetch body: "event:" and "data:" lines, blank-line separated, with
  // any of CRLF, LF or CR as line ends. `onEvent` returns true to stop reading. A broken
  // connection or an unfinished event is a cut stream, never a fault of the page.
  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const dispatch = (block) => {
      let event = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (!data.length) return false;
      let parsed;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch (error) {
        throw new ApiError(0, "cut", CUT);
      }
      return onEvent(event, parsed);
    };
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (error.name === "AbortError") throw error;
          throw new ApiError(0, "cut", CUT);
        }
        if (chunk.done) return; // an unterminated last block is dropped, as the SSE spec says
        buffer += decoder.decode(chunk.value, { stream: true });
        // A CR at the very end may be half of a CRLF: it waits for the next chunk.
        const held = buffer.endsWith("\r") ? "\r" : "";
        const blocks = buffer.slice(0, buffer.length - held.length).replace(/\r\n?/g, "\n").split("\n\n");
        buffer = blocks.pop() + held;
        for (const block of blocks) if (dispatch(block)) return;
      }
    } finally {
      reader.cancel().catch(() => {}); // done, an error event or a fault: let the server stop too
    }
  }

  // -- start, resume, start over ------------------------------------------------------------
  function setLoading(value) {
    loading = value;
    if (value) document.body.dataset.state = "loading";
    else if (document.body.dataset.state === "loading") document.body.dataset.state = "idle";
    update();
  }

  async function resume() {
    if (!session) return;
    setLoading(true);
    try {
      const resumed = await (await call("POST", path("/resume"))).json();
      save({ ...session, expires_at: resumed.expires_at });
      const history = await (await call("GET", path())).json();
      renderHistory(history.messages || []);
      hideNotice();
    } catch (error) {
      if (error.status === 401 || error.status === 404) {
        save(null);
        showNotice("info", "Your last conversation has expired; this is a new one.");
      } else {
        showNotice("error", error.message, { label: "Try again", run: resume });
      }
    } finally {
      setLoading(false);
    }
  }

  function startOver(forget) {
    if (busy || loading) return;
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
    if (!touch) ui.input.focus();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    // Enter reaches here even while Send is disabled: then nothing typed may be cleared.
    const text = ui.input.value.trim();
    if (!text || busy || loading || blocked()) return;
    ui.input.value = "";
    update();
    submit(text);
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.isComposing && abort) abort.abort();
  });
  ui.log.addEventListener("scroll", () => (following = nearBottom()), { passive: true });
  ui.input.addEventListener("input", update);
  ui.stop.addEventListener("click", () => abort && abort.abort());
  ui.reset.addEventListener("click", () => startOver(true));
  ui.suggestions.forEach((button) => button.addEventListener("click", () => submit(button.textContent)));

  // Who the assistant speaks for, from the catalog's manifest: header, title, greeting and
  // the first suggestions. Text only (textContent); the page works with its defaults if this fails.
  async function about() {
    try {
      const response = await fetch(`${base}/about`, { credentials: "omit" });
      if (!response.ok) return;
      const info = await response.json();
      if (typeof info.name !== "string" || typeof info.offers !== "string") return;
      const brand = $("brand");
      if (brand) brand.textContent = info.name;
      document.title = `${info.name} assistant`;
      const greeting = $("greeting");
      if (greeting) {
        const shops = info.has_shops ? ", find a shop near you, and tell you when it is open" : "";
        greeting.textContent = `Hi! I'm ${info.name}'s assistant. I can help with ${info.offers}${shops}.`;
      }
      const asks = Array.isArray(info.suggestions) ? info.suggestions : [];
      ui.suggestions.forEach((button, i) => {
        if (typeof asks[i] === "string" && asks[i]) button.textContent = asks[i];
      });
    } catch (error) {
      // The defaults stay.
    }
  }

  update();
  // Ready to type at once, except on touch screens, where focus would pop the keyboard up.
  if (!touch) ui.input.focus();
  about();
  resume();
})();
