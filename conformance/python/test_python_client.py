#!/usr/bin/env python3
"""Second-language client check: the `sio-client` profile driven by python-socketio.

Starts the fixture under test ($FIXTURE_CMD, default <repo>/target/release/fixture)
with `--profile sio-client --port <free port>` as a subprocess in its own process
group, runs a few checks with the python-socketio client (requests + websocket-client
transports), stops the fixture, and prints a closing line `N passed, M failed`.
Exits non-zero when a check fails or the fixture does not start.

    python3 conformance/python/test_python_client.py      (needs requirements.txt installed)
    conformance/python/run.sh                              (installs them into a venv first)

FIXTURE_CMD is a shell-style command string, run from the current directory (so
`FIXTURE_CMD="node conformance/reference/fixture.mjs"` works from the repository root);
`--profile sio-client --port <n>` is appended. FIXTURE_START_TIMEOUT (seconds, default 60)
bounds the wait for the fixture to accept TCP connections on 127.0.0.1:<port>.
Fixture output goes to conformance/.work/results/python-client.fixture.log.
"""

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE_DIR = os.path.dirname(HERE)
REPO_DIR = os.path.dirname(CONFORMANCE_DIR)
RESULTS_DIR = os.path.join(CONFORMANCE_DIR, ".work", "results")
LOG_FILE = os.path.join(RESULTS_DIR, "python-client.fixture.log")

UTF8_STRINGS = [
    "\u3066\u3059\u3068",
    "\u042F \u0411 \u0413 \u0414 \u0416 \u0419",
    "\u00C4 \u00E4 \u00DC \u00FC \u00DF",
    "utf8 \u2014 string",
    "utf8 \u2014 string",
]
WAIT = 10  # seconds, for every event or ack a check waits for


# --- fixture process -------------------------------------------------------------


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def free_port():
    """A TCP port free on 127.0.0.1, and on ::1 when this machine has IPv6 loopback."""
    for _ in range(50):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        v4.bind(("127.0.0.1", 0))
        port = v4.getsockname()[1]
        usable = True
        try:
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                v6.bind(("::1", port))
            except OSError as err:
                usable = err.errno != errno.EADDRINUSE
            finally:
                v6.close()
        except OSError:
            pass  # no IPv6 at all
        v4.close()
        if usable:
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1 / ::1")


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Fixture:
    def __init__(self, profile):
        self.cmd = os.environ.get("FIXTURE_CMD") or shell_quote(os.path.join(REPO_DIR, "target", "release", "fixture"))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        os.makedirs(RESULTS_DIR, exist_ok=True)
        args = ["--profile", profile, "--port", str(self.port)]
        with open(LOG_FILE, "ab") as log:
            log.write(("\n=== %s %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), self.cmd, " ".join(args))).encode())
            log.flush()
            # like test/support/fixture.mjs: `exec` so the fixture leads its own process group
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", 'exec %s "$@"' % self.cmd, "fixture"] + args,
                # relative paths in FIXTURE_CMD are taken from the caller's directory
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        timeout = float(os.environ.get("FIXTURE_START_TIMEOUT") or 60)
        deadline = time.monotonic() + timeout
        while not can_connect(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError("fixture exited with status %s before accepting connections; see %s" % (self.proc.returncode, LOG_FILE))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fixture did not accept connections on 127.0.0.1:%d within %g s; see %s" % (self.port, timeout, LOG_FILE))
            time.sleep(0.05)

    def _signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self._signal(signal.SIGKILL)  # anything left in its group


# --- checks ----------------------------------------------------------------------

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class Recorder:
    """Events received by a client, with a blocking wait."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []

    def add(self, event, args):
        with self.cond:
            self.events.append((event, args))
            self.cond.notify_all()

    def take(self, event, timeout=WAIT):
        """The arguments of the next recorded `event` (earlier other events are an error)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.events:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r event within %g s" % (event, timeout))
                self.cond.wait(left)
            got, args = self.events.pop(0)
        assert got == event, "expected event %r, got %r %r" % (event, got, args)
        return args


def new_client(fx, namespaces=("/",), transports=None, auth=None, events=()):
    """A connected python-socketio client; `events` are recorded on the first namespace."""
    import socketio

    sio = socketio.Client(reconnection=False)
    rec = Recorder()
    for event in events:
        sio.on(event, (lambda e: lambda *args: rec.add(e, args))(event), namespace=namespaces[0])
    sio.connect(fx.url, namespaces=list(namespaces), transports=transports, auth=auth, wait_timeout=WAIT)
    return sio, rec


def assert_offset_args(args, expected):
    """`args` is `expected` plus the offset string that connection state recovery appends."""
    assert len(args) == len(expected) + 1, "expected %r plus an offset, got %r" % (expected, args)
    assert list(args[:-1]) == list(expected), "expected %r, got %r" % (expected, args)
    assert isinstance(args[-1], str) and args[-1], "offset is a non-empty string, got %r" % (args[-1],)


@check
def echo_with_callback(fx):
    """emit('echo', data, callback=…) is acknowledged with the data unchanged."""
    sio, _ = new_client(fx)
    try:
        got = []
        done = threading.Event()

        def on_ack(*args):
            got.append(args)
            done.set()

        payload = {"a": 1, "b": [True, None, 1.5], "ü": "€ てすと", "nested": {"x": []}}
        sio.emit("echo", payload, callback=on_ack)
        assert done.wait(WAIT), "no ack within %d s" % WAIT
        assert got == [(payload,)], "ack arguments %r" % (got,)
    finally:
        sio.disconnect()


@check
def hi_gets_hi(fx):
    """emit('hi') makes the server emit 'hi' (with its offset)."""
    sio, rec = new_client(fx, events=("hi",))
    try:
        sio.emit("hi")
        assert_offset_args(rec.take("hi"), [])
    finally:
        sio.disconnect()


@check
def call_echo_values(fx):
    """call('echo', v) returns v for JSON values, UTF-8 and bytes."""
    sio, _ = new_client(fx)
    try:
        for value in [123, "str", "", False, [1, [2, [3]]], {"k": None}] + UTF8_STRINGS:
            got = sio.call("echo", value, timeout=WAIT)
            assert got == value, "echo %r returned %r" % (value, got)
        blob = bytes(range(256)) * 4
        got = sio.call("echo", blob, timeout=WAIT)
        assert got == blob, "binary echo returned %r" % (got[:16] if isinstance(got, bytes) else got,)
    finally:
        sio.disconnect()


@check
def server_events(fx):
    """getUtf8 (five strings, in order), false, doge (binary asdfasdf)."""
    sio, rec = new_client(fx, events=("takeUtf8", "false", "doge"))
    try:
        sio.emit("getUtf8")
        for s in UTF8_STRINGS:
            assert_offset_args(rec.take("takeUtf8"), [s])
        sio.emit("false")
        assert_offset_args(rec.take("false"), [False])
        sio.emit("doge")
        assert_offset_args(rec.take("doge"), [b"asdfasdf"])
    finally:
        sio.disconnect()


@check
def websocket_only(fx):
    """Connects with transports=['websocket'] and gets an ack."""
    sio, _ = new_client(fx, transports=["websocket"])
    try:
        assert sio.transport() == "websocket", "transport %r" % sio.transport()
        assert sio.call("echo", "over websocket", timeout=WAIT) == "over websocket"
    finally:
        sio.disconnect()


@check
def polling_only(fx):
    """Connects with transports=['polling'] and gets an ack."""
    sio, _ = new_client(fx, transports=["polling"])
    try:
        assert sio.transport() == "polling", "transport %r" % sio.transport()
        assert sio.call("echo", "over polling", timeout=WAIT) == "over polling"
    finally:
        sio.disconnect()


@check
def namespaces_and_ids(fx):
    """/ and /foo over one connection; getId on /foo is that namespace's socket id, not the Engine.IO sid."""
    sio, _ = new_client(fx, namespaces=("/", "/foo"))
    try:
        foo_sid = sio.get_sid("/foo")
        main_sid = sio.get_sid("/")
        assert foo_sid and main_sid and foo_sid != main_sid, "sids %r %r" % (main_sid, foo_sid)
        assert foo_sid != sio.eio.sid, "the socket id is not the Engine.IO sid"
        got = sio.call("getId", namespace="/foo", timeout=WAIT)
        assert got == foo_sid, "getId returned %r, expected %r" % (got, foo_sid)
    finally:
        sio.disconnect()


@check
def handshake_auth(fx):
    """getHandshake returns the auth object and the handshake query."""
    sio, _ = new_client(fx, auth={"token": "py"})
    try:
        h = sio.call("getHandshake", timeout=WAIT)
        assert h["auth"] == {"token": "py"}, "auth %r" % (h.get("auth"),)
        assert h["query"]["EIO"] == "4", "query %r" % (h.get("query"),)
    finally:
        sio.disconnect()


@check
def no_implicit_ack(fx):
    """An event nobody acknowledges times out."""
    import socketio

    sio, _ = new_client(fx)
    try:
        try:
            got = sio.call("unknown", "x", timeout=0.5)
        except socketio.exceptions.TimeoutError:
            pass
        else:
            raise AssertionError("unknown event was acknowledged with %r" % (got,))
        assert sio.call("echo", "after", timeout=WAIT) == "after"
    finally:
        sio.disconnect()


@check
def middleware_rejection(fx):
    """/no is rejected by its middleware with the message of §3.1."""
    import socketio

    sio = socketio.Client(reconnection=False)
    errors = []
    sio.on("connect_error", lambda *args: errors.append(args), namespace="/no")
    try:
        sio.connect(fx.url, namespaces=["/no"], wait_timeout=WAIT)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError("connected to /no")
    finally:
        sio.disconnect()
    assert errors == [({"message": "Auth failed (custom namespace)"},)], "connect_error %r" % (errors,)


def package_version(name):
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return "?"


def main():
    try:
        import socketio  # noqa: F401
    except ImportError as err:
        print("python-socketio is not installed (%s); run conformance/python/run.sh" % err, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    try:
        fx = Fixture("sio-client")
    except Exception as err:  # noqa: BLE001
        print("fixture: %s" % err, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    try:
        print("python-socketio %s against %s (%s)" % (package_version("python-socketio"), fx.cmd, fx.url), flush=True)
        for fn in CHECKS:
            started = time.monotonic()
            try:
                fn(fx)
            except Exception as err:  # noqa: BLE001
                failed += 1
                print("not ok - %s (%.0f ms): %s" % (fn.__name__, (time.monotonic() - started) * 1000, err or type(err).__name__), flush=True)
                if not isinstance(err, AssertionError):
                    traceback.print_exc()
            else:
                passed += 1
                print("ok - %s (%.0f ms)" % (fn.__name__, (time.monotonic() - started) * 1000), flush=True)
    finally:
        fx.stop()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
