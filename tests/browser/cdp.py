"""Drive headless Chromium through the Chrome DevTools Protocol over ``--remote-debugging-pipe``.

One :class:`Browser` (one Chromium process) per test session; each test opens a :class:`Page`
(a new target with its own session). Messages are JSON objects separated by NUL bytes on the
file descriptors 3 (commands to Chromium) and 4 (replies and events), so no WebSocket library
is needed. Input is real: clicks are ``Input.dispatchMouseEvent`` at an element's centre, typing
is ``Input.insertText`` and key events, so React sees the browser's own events.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser")


class CDPError(Exception):
    """Chromium answered a command with an error, or did not answer in time."""


def chromium_path() -> str | None:
    """The Chromium executable (Debian's ``/usr/bin/chromium``), or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Waiter:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] = {}


class Browser:
    """A headless Chromium process and the pipe protocol spoken with it."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def child_fds() -> None:  # runs in the child before exec: the pipes become fds 3 and 4
            high = [
                fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_read, from_browser_write)
            ]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self._stderr = (profile.parent / "chromium.stderr").open("wb")
        self._process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",  # root in CI containers; the pages are the test's own
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "--window-size=1280,1000",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=child_fds,
            pass_fds=(3, 4),  # kept open by the child after child_fds
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._listeners: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.command("Browser.getVersion")["product"]

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                self._dispatch(json.loads(raw))
        with self._lock:
            for waiter in self._waiters.values():
                waiter.reply = {"error": {"message": "Chromium exited"}}
                waiter.event.set()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._lock:
                waiter = self._waiters.pop(message["id"], None)
            if waiter is not None:
                waiter.reply = message
                waiter.event.set()
            return
        listener = self._listeners.get(message.get("sessionId", ""))
        if listener is not None:
            listener(message)

    def command(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one command and return its ``result`` (raises :class:`CDPError`)."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        waiter = _Waiter()
        with self._lock:
            self._waiters[message_id] = waiter
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        if not waiter.event.wait(timeout):
            with self._lock:
                self._waiters.pop(message_id, None)
            raise CDPError(f"{method}: no answer within {timeout} s")
        if "error" in waiter.reply:
            raise CDPError(f"{method}: {waiter.reply['error'].get('message')}")
        result: dict[str, Any] = waiter.reply.get("result", {})
        return result

    def new_page(self) -> Page:
        """A new tab with its own session, console and exceptions recorded."""
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True})
        return Page(self, target, session["sessionId"])

    def listen(self, session: str, listener: Callable[[dict[str, Any]], None] | None) -> None:
        """Route the events of ``session`` to ``listener`` (None removes it)."""
        if listener is None:
            self._listeners.pop(session, None)
        else:
            self._listeners[session] = listener

    def close(self) -> None:
        """Ask Chromium to exit; kill it if it does not within 10 s."""
        with contextlib.suppress(CDPError):
            self.command("Browser.close", timeout=10)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        self._reader.join(timeout=10)
        os.close(self._from_browser)
        self._stderr.close()


class Page:
    """One tab: evaluate JavaScript, click and type like a user, collect console errors."""

    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.console: list[dict[str, str]] = []  # {level, text, source}
        self.exceptions: list[str] = []
        browser.listen(session, self._on_event)
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def _on_event(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(arg) for arg in params.get("args", []))
            self.console.append(
                {"level": params.get("type", ""), "text": text, "source": "console"}
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.exceptions.append(exception.get("description") or details.get("text", ""))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(
                {
                    "level": entry.get("level", ""),
                    "text": entry.get("text", ""),
                    "source": entry.get("source", ""),
                }
            )

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A CDP command in this page's session."""
        return self.browser.command(method, params, session=self.session)

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions.

        Chromium's own network lines ("Failed to load resource: ... 503") are left out: an
        answer such as a failing health check's 503 is expected, and the tests check statuses
        on the server side.
        """
        logged = [
            entry["text"]
            for entry in self.console
            if entry["level"] == "error" and entry["source"] != "network"
        ]
        return logged + self.exceptions

    def goto(self, url: str) -> None:
        """Navigate and wait until the document has loaded."""
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout=45)

    def evaluate(self, expression: str, *, timeout: float = 30.0) -> Any:
        """The JSON value of ``expression`` (promises are awaited); a thrown error raises."""
        result = self.browser.command(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"{expression[:80]!r} threw: {description}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float = 20.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value (CDPError on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out after {timeout} s waiting for {expression}")
            time.sleep(0.05)

    def box(self, selector: str, *, timeout: float = 20.0) -> dict[str, float]:
        """The first visible element matching ``selector``, scrolled into view: its box."""
        script = f"""(() => {{
            const el = Array.from(document.querySelectorAll({json.dumps(selector)}))
                .find((e) => e.getClientRects().length > 0);
            if (!el) return null;
            el.scrollIntoView({{block: 'center'}});
            const r = el.getBoundingClientRect();
            return {{x: r.x, y: r.y, width: r.width, height: r.height}};
        }})()"""
        box: dict[str, float] = self.wait_for(script, timeout=timeout)
        for _ in range(20):  # until the layout is still (an answer arriving may move it)
            time.sleep(0.05)
            again: dict[str, float] = self.wait_for(script, timeout=timeout)
            if again == box:
                break
            box = again
        return box

    def click(self, selector: str) -> None:
        """Press and release the left button at the element's centre."""
        box = self.box(selector)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def key(self, key: str, code: str, key_code: int) -> None:
        """Press and release one key (``Enter``, ``Backspace``, ``Tab``...)."""
        for kind in ("rawKeyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "key": key, "code": code, "windowsVirtualKeyCode": key_code},
            )

    def type(self, selector: str, text: str, *, clear: bool = True) -> None:
        """Click into the field, select what it holds (when ``clear``), type ``text``."""
        self.click(selector)
        if clear:
            self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
            self.key("Backspace", "Backspace", 8)
        if text:
            self.send("Input.insertText", {"text": text})

    def close(self) -> None:
        """Close the tab."""
        self.browser.listen(self.session, None)
        self.browser.command("Target.closeTarget", {"targetId": self.target})


def _remote_text(arg: dict[str, Any]) -> str:
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    preview = arg.get("preview")
    if preview and preview.get("properties"):
        props = ", ".join(f"{p['name']}: {p.get('value', '')}" for p in preview["properties"])
        return f"{{{props}}}"
    return str(arg.get("description", arg.get("type", "")))
