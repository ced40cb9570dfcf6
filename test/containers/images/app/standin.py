#!/usr/bin/env python3
"""Stand-in for the Home Registry image in the container lab (not the real app).

Listens on $PORT (default 8210), HTTP/1.1 with keep-alive, one thread per connection.
  GET  /health   200 {"status":"ok",...}; 503 while draining; 500 when STANDIN_HEALTH=fail
                 (the "broken new image" of the rollback tests). The body says whether the database
                 in DATABASE_URL answered (checked at most once a second), the status does not: a
                 database outage must not make every instance fail its health check at once.
  GET  /db       SELECT 1 through DATABASE_URL: 200, or 503 with the error (database outages show here)
  POST /write?id=N   INSERT N into standin_writes (created on first use); 200 only after COMMIT
  GET  /rows     every id in standin_writes, as JSON
  GET  /upload?name=X  writes X into /app/uploads (the uploads volume must be writable by the app user)
  anything else  200 "ok <hostname> <version>"
SIGTERM: /health answers 503 at once, requests are still served for STANDIN_DRAIN_MS (default 2500),
then the listener closes, idle keep-alive connections are closed, in-flight requests finish, exit 0.
"""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = int(os.environ.get("PORT", "8210"))
VERSION = os.environ.get("STANDIN_VERSION", "v1")
HEALTH = os.environ.get("STANDIN_HEALTH", "ok")
DRAIN_S = int(os.environ.get("STANDIN_DRAIN_MS", "2500")) / 1000.0
DATABASE_URL = os.environ.get("DATABASE_URL", "")
HOST = socket.gethostname()

state = {"draining": False, "closing": False}
idle = set()  # sockets of keep-alive connections waiting for their next request
idle_lock = threading.Lock()
db_status = {"at": 0.0, "value": "not configured" if not DATABASE_URL else "unknown"}


def log(msg):
    sys.stderr.write("standin: %s\n" % msg)
    sys.stderr.flush()


def db_connect():
    import psycopg2  # only when a database is configured

    return psycopg2.connect(DATABASE_URL, connect_timeout=2, application_name="standin")


def db_check():
    if not DATABASE_URL:
        return "not configured"
    now = time.time()
    if now - db_status["at"] >= 1.0:
        db_status["at"] = now
        try:
            c = db_connect()
            try:
                c.cursor().execute("SELECT 1")
            finally:
                c.close()
            db_status["value"] = "ok"
        except Exception as e:  # noqa: BLE001 - report whatever the driver says
            db_status["value"] = "error: %s" % str(e).strip().splitlines()[0] if str(e).strip() else "error"
    return db_status["value"]


def db_run(sql, args=(), fetch=False):
    c = db_connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS standin_writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
        cur.execute(sql, args)
        rows = cur.fetchall() if fetch else None
        c.commit()
        return rows
    finally:
        c.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 70  # idle keep-alive connections end after this

    def log_message(self, fmt, *args):  # quiet: the tests count requests themselves
        pass

    def handle_one_request(self):
        with idle_lock:
            idle.add(self.connection)
        try:
            self.raw_requestline = self.rfile.readline(65537)
        finally:
            with idle_lock:
                idle.discard(self.connection)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(501)
            return
        method()
        self.wfile.flush()

    def reply(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Standin", "%s %s" % (HOST, VERSION))
        if state["closing"]:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            if HEALTH == "fail":
                return self.reply(500, json.dumps({"status": "failing on purpose", "version": VERSION}), "application/json")
            body = json.dumps({"status": "draining" if state["draining"] else "ok", "version": VERSION, "host": HOST, "database": db_check()})
            return self.reply(503 if state["draining"] else 200, body + "\n", "application/json")
        if url.path == "/db":
            try:
                db_run("SELECT 1")
                return self.reply(200, "db ok\n")
            except Exception as e:  # noqa: BLE001
                return self.reply(503, "db error: %s\n" % e)
        if url.path == "/rows":
            try:
                rows = db_run("SELECT id FROM standin_writes ORDER BY id", fetch=True)
                return self.reply(200, json.dumps([r[0] for r in rows]), "application/json")
            except Exception as e:  # noqa: BLE001
                return self.reply(503, "db error: %s\n" % e)
        if url.path == "/upload":
            name = parse_qs(url.query).get("name", ["probe"])[0]
            if not name.isalnum():
                return self.reply(400, "bad name\n")
            try:
                with open(os.path.join("/app/uploads", name), "w") as f:
                    f.write(HOST)
                return self.reply(200, "stored %s\n" % name)
            except OSError as e:
                return self.reply(500, "cannot write uploads: %s\n" % e)
        return self.reply(200, "ok %s %s\n" % (HOST, VERSION))

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if url.path == "/write":
            try:
                n = int(parse_qs(url.query).get("id", [""])[0])
                db_run("INSERT INTO standin_writes(id) VALUES (%s)", (n,))
                return self.reply(200, "written %d\n" % n)
            except Exception as e:  # noqa: BLE001
                return self.reply(503, "db error: %s\n" % e)
        return self.reply(200, "ok %s %s\n" % (HOST, VERSION))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


server = Server(("0.0.0.0", PORT), Handler)


def close_idle():
    with idle_lock:
        for s in list(idle):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def on_sigterm(signum, frame):
    if state["draining"]:
        return
    state["draining"] = True
    log("SIGTERM: draining for %.1fs" % DRAIN_S)

    def finish():
        time.sleep(DRAIN_S)
        state["closing"] = True
        server.shutdown()  # stops accepting
        server.socket.close()
        for _ in range(50):  # connections that go idle later are closed too
            close_idle()
            time.sleep(0.1)
        log("closed")
        os._exit(0)

    threading.Thread(target=finish, daemon=True).start()


signal.signal(signal.SIGTERM, on_sigterm)
signal.signal(signal.SIGINT, on_sigterm)
log("listening on :%d (%s, health %s)" % (PORT, VERSION, HEALTH))
server.serve_forever(poll_interval=0.1)
# serve_forever returned (shutdown): wait for finish() to exit the process
while True:
    time.sleep(1)
