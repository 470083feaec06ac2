"""Shared parts of the fault scripts: an SMTP sink that misbehaves on command, a Candour
process on SQLite seeded with subscribers and a scheduled campaign, and readings of its
queue. Python 3 standard library only.
"""

import asyncio
import atexit
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGE_ID = re.compile(r"^Message-ID:\s*<c(\d+)\.d(\d+)@", re.IGNORECASE | re.MULTILINE)


def binary():
    path = os.environ.get("CANDOUR_BIN") or os.path.join(ROOT, "target", "debug", "candour")
    if not os.access(path, os.X_OK):
        sys.exit(f"no candour binary at {path}: build it or set CANDOUR_BIN")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server on loopback, in a thread of its own. Its misbehaviours are plain
    attributes the script sets while it runs."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        # (time, delivery id) for each message kept.
        self.kept = []
        self.quits = 0
        self.refuse_sessions = 0  # sessions still to greet with 421 and close
        self.drop_after_data = 0  # messages still to keep and then drop, unanswered
        self.rcpt_reply = None  # a reply for every RCPT while set
        self.delay = 0.0  # seconds before answering each final "."
        # (seconds from the client's MAIL to its closing the connection unanswered)
        self.abandoned = []
        # The text of the first message kept, for its links.
        self.first_text = None
        self._server = None
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self.up()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def up(self):
        async def start():
            self._server = await asyncio.start_server(
                self._session, "127.0.0.1", self.port, reuse_address=True
            )

        self._call(start())

    def down(self):
        """Stop listening and cut every open session: a relay that went away."""

        async def stop():
            self._server.close()
            for task in list(self._sessions):
                task.cancel()

        self._call(stop())

    _sessions = set()

    def ids(self):
        with self.lock:
            return [d for _, d in self.kept]

    async def _session(self, reader, writer):
        task = asyncio.current_task()
        self._sessions.add(task)
        try:
            await self._converse(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            self._sessions.discard(task)
            writer.close()

    async def _converse(self, reader, writer):
        def say(text):
            writer.write(text.encode() + b"\r\n")

        with self.lock:
            refuse = self.refuse_sessions > 0
            self.refuse_sessions -= refuse
        if refuse:
            say("421 4.3.2 busy, try later")
            await writer.drain()
            return
        say("220 fault-sink ESMTP")
        await writer.drain()
        mail_at = None
        while True:
            line = await reader.readline()
            if not line:
                if mail_at is not None:
                    with self.lock:
                        self.abandoned.append(time.monotonic() - mail_at)
                return
            command = line.decode(errors="replace").strip()
            upper = command.upper()
            if upper.startswith("EHLO"):
                say("250-fault-sink\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif upper.startswith("HELO"):
                say("250 fault-sink")
            elif upper.startswith("MAIL FROM:"):
                mail_at = time.monotonic()
                say("250 2.1.0 ok")
            elif upper.startswith("RCPT TO:"):
                with self.lock:
                    reply = self.rcpt_reply
                say(reply or "250 2.1.5 ok")
            elif upper == "DATA":
                say("354 end with <CRLF>.<CRLF>")
                await writer.drain()
                lines = []
                while True:
                    data = await reader.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    lines.append(data.decode(errors="replace"))
                text = "".join(lines)
                found = MESSAGE_ID.search(text)
                with self.lock:
                    if self.first_text is None:
                        self.first_text = text
                    self.kept.append((time.monotonic(), int(found.group(2)) if found else -1))
                    drop = self.drop_after_data > 0
                    self.drop_after_data -= drop
                    delay = self.delay
                if drop:
                    return
                if delay:
                    # A client that gives up closes the connection while it waits.
                    closed = asyncio.ensure_future(reader.read(1))
                    done, _ = await asyncio.wait({closed}, timeout=delay)
                    if done and closed.result() == b"":
                        with self.lock:
                            self.abandoned.append(time.monotonic() - mail_at)
                        return
                    closed.cancel()
                    try:
                        await closed
                    except asyncio.CancelledError:
                        pass
                say("250 2.0.0 queued")
                mail_at = None
            elif upper in ("RSET", "NOOP"):
                say("250 2.0.0 ok")
            elif upper == "QUIT":
                with self.lock:
                    self.quits += 1
                say("221 2.0.0 bye")
                await writer.drain()
                return
            else:
                say("502 5.5.2 not implemented")
            await writer.drain()


BODY = "Hello {{name}},\n\nRead [our news](https://example.org/news).\n\nChange your mind: [your choices]({{preferences_url}}).\n"


class Candour:
    """One Candour instance on a SQLite file in its own folder, sending to `sink`."""

    def __init__(self, sink, database_url=None, **campaigns):
        self.dir = tempfile.mkdtemp(prefix="candour-faults-")
        self.db = os.path.join(self.dir, "candour.db")
        self.database_url = database_url or f"sqlite://{self.db}"
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(self.dir, "candour.log"), "ab")
        settings = {"lease_seconds": 3, "retry_first_seconds": 1, "retry_max_seconds": 2}
        settings.update(campaigns)
        lines = "\n".join(f"{k} = {v}" for k, v in settings.items())
        self.config = os.path.join(self.dir, "candour.toml")
        with open(self.config, "w") as f:
            f.write(f"""listen = "127.0.0.1:{self.port}"
database_url = "{self.database_url}"
public_url = "http://127.0.0.1:{self.port}"
[organisation]
name = "Fault test"
email = "web@example.org"
dpo_name = "DPO"
dpo_email = "dpo@example.org"
[mail]
smtp_url = "smtp://127.0.0.1:{sink.port}"
from = "Fault test <news@example.org>"
[campaigns]
{lines}
[[purposes]]
id = "news"
name = "News"
description = "Emails about our work."
data = "Your email address."
lawful_basis = "consent"
retention_days = 730
channels = ["email"]
direct_marketing = true
consent_label = "Send me news"
""")
        atexit.register(self._clean_up)
        env = self._env()
        subprocess.run([binary(), "--config", self.config, "migrate"], check=True,
                       env=env, stdout=subprocess.DEVNULL, stderr=self.log)

    def _clean_up(self):
        """At exit: no instance left running, no files left behind (the log is kept when
        FAULTS_KEEP is set)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not os.environ.get("FAULTS_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def _env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
        env["RUST_LOG"] = env.get("RUST_LOG", "info")
        return env

    def seed(self, recipients, subject="Fault news", tracked=False):
        """`recipients` subscribers who agreed to news by email, and a campaign to them all,
        due now. Returns the campaign's id."""
        now = int(time.time()) - 5
        with self.connect() as db:
            db.executemany(
                "INSERT INTO people (email, name, source, created_at, updated_at) "
                "VALUES (?, ?, 'staff', ?, ?)",
                [(f"r{i}@example.org", f"R{i}", now, now) for i in range(recipients)],
            )
            db.execute(
                "INSERT INTO consent_events (person_id, purpose, channel, granted, at, method) "
                "SELECT id, 'news', 'email', 1, ?, 'preferences' FROM people", (now,))
            if tracked:
                db.execute(
                    "INSERT INTO consent_events (person_id, purpose, channel, granted, at, "
                    "method) SELECT id, 'email-tracking', NULL, 1, ?, 'preferences' FROM people",
                    (now,))
            cur = db.execute(
                "INSERT INTO campaigns (name, subject, body, purpose, state, scheduled_at, "
                "links, created_at, updated_at) VALUES (?, ?, ?, 'news', 'scheduled', ?, "
                "'[\"https://example.org/news\"]', ?, ?)",
                (subject, subject + " for {{name}}", BODY, now, now, now))
            return cur.lastrowid

    def connect(self):
        db = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        return _Tx(db)

    def start(self):
        self.proc = subprocess.Popen(
            [binary(), "--config", self.config, "serve"], env=self._env(),
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"candour exited with {self.proc.returncode}; see {self.log.name}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("candour did not start within 30 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def term(self, within):
        """SIGTERM; returns (exit code, seconds taken)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None, time.monotonic() - started
        return code, time.monotonic() - started

    def states(self, campaign):
        with self.connect() as db:
            return dict(db.execute(
                "SELECT state, count(*) FROM deliveries WHERE campaign_id = ? GROUP BY state",
                (campaign,)).fetchall())

    def campaign_state(self, campaign):
        with self.connect() as db:
            return db.execute("SELECT state FROM campaigns WHERE id = ?", (campaign,)).fetchone()[0]

    def flagged(self, campaign):
        """Ids of the messages the report counts as possible duplicates."""
        with self.connect() as db:
            return {r[0] for r in db.execute(
                "SELECT id FROM deliveries WHERE campaign_id = ? "
                "AND (reclaimed > 0 OR handed_over > 1)", (campaign,))}

    def wait_sent(self, campaign, within):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.campaign_state(campaign) == "sent":
                return True
            time.sleep(0.1)
        return False


class _Tx:
    """A read or write in one transaction, so what it sees is one moment of the file."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, kind, *_):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        self.db.close()


def copies(ids):
    counts = {}
    for d in ids:
        counts[d] = counts.get(d, 0) + 1
    return counts


def median(xs):
    xs = sorted(xs)
    if not xs:
        return 0
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


class Checks:
    """Broken promises, collected; the script exits non-zero when there is any."""

    def __init__(self):
        self.broken = []

    def expect(self, ok, what):
        print(("  ok      " if ok else "  BROKEN  ") + what, flush=True)
        if not ok:
            self.broken.append(what)

    def finish(self):
        if self.broken:
            print(f"{len(self.broken)} promise(s) broken.")
            sys.exit(1)
        print("Every promise kept.")
