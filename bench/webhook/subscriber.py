#!/usr/bin/env python3
"""The subscriber of the HttpWebhook benchmark, a real outside service over HTTP.

  POST /hold      answers 201 {"id": n} and appends the callback URL to URL_FILE (the run waits);
  POST /callback  answers 201 {"id": n}, then calls the callback URL back over HTTPS (trusting
                  CA_FILE) from a pool of WORKERS threads with keep-alive connections, as a
                  service that finishes at once would;
  POST /unsubscribe, DELETE /subscriptions/n   answer 200.

Usage: subscriber.py PORT URL_FILE CA_FILE [WORKERS]"""
import http.client
import itertools
import json
import queue
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, path, ca_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 8
lock = threading.Lock()
out = open(path, "a", buffering=1)
ids = itertools.count(1)
callbacks = queue.Queue()
context = ssl.create_default_context(cafile=ca_file)


def call_back():
    connection = None
    while True:
        url = urllib.parse.urlsplit(callbacks.get())
        body = b'{"status":"done"}'
        for _ in range(3):
            try:
                if connection is None:
                    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=30)
                connection.request("POST", url.path + "?" + url.query, body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                text = answer.read()
                if answer.status != 200:
                    print(f"callback answered {answer.status}: {text[:200]!r}", file=sys.stderr, flush=True)
                if answer.status < 500:
                    break
            except (OSError, http.client.HTTPException) as error:
                print(f"callback failed: {error}", file=sys.stderr, flush=True)
                connection = None


for _ in range(workers):
    threading.Thread(target=call_back, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the gateway's client expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/hold") or self.path.startswith("/callback"):
            url = json.loads(body or b"{}").get("callbackUrl", "")
            self.answer(201, {"id": next(ids)})
            if self.path.startswith("/hold"):
                with lock:
                    out.write(url + "\n")
            else:
                callbacks.put(url)
        else:
            self.answer(200, {"ok": True})

    def do_DELETE(self):
        self.answer(200, {"deleted": True})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
