#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between zpanel and s3rver, for tests/e2e/test_s3.sh.

usage: s3_proxy.py LISTEN_PORT UPSTREAM_PORT MODE_FILE LOG_FILE SECRET_KEY

Every request is checked the way AWS checks it and s3rver 3.7 does not: its SigV4
signature is recomputed with awscli's own signer (botocore, from Debian's awscli) from the
headers it names, the secret key and the x-amz-date; the payload's SHA-256 and Content-MD5
must match the body. A bad signature is answered 403 SignatureDoesNotMatch, as AWS would.
Then it is forwarded to s3rver, unless MODE_FILE asks for a fault. MODE_FILE holds
comma-separated rules read at each request:
  500:N       the next N part uploads (PUT ?partNumber=) are answered 500 InternalError
  slowdown:N  the next N part uploads are answered 503 SlowDown
  drop:N      the next N part uploads are cut: half the body is read, the connection closed
  dropall     every part upload is cut (the upload must fail and be aborted)
  dropget:N   the next N GETs of an object (not a listing, not a .sha256) are cut half way
One line per request goes to LOG_FILE: METHOD PATH?QUERY STATUS-or-FAULT sig=ok|bad.
"""
import base64
import hashlib
import http.client
import http.server
import socket
import sys
import threading

import awscli  # noqa: F401  (Debian's awscli makes its bundled botocore importable)
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LISTEN, UPSTREAM, MODE_FILE, LOG_FILE, SECRET = (
    int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
lock = threading.Lock()
used = {}  # rule -> times applied


def take(kind):
    """Whether a fault of kind applies to this request (and count it)."""
    with lock:
        try:
            rules = open(MODE_FILE).read().strip()
        except OSError:
            rules = ""
        for rule in filter(None, rules.split(",")):
            name, _, n = rule.partition(":")
            if name == kind + "all" or (kind == "drop" and name == "dropall"):
                return True
            if name == kind and n:
                done = used.get(rule, 0)
                if done < int(n):
                    used[rule] = done + 1
                    return True
        return False


def log(line):
    with lock:
        with open(LOG_FILE, "a") as f:
            f.write(line + "\n")


def check_signature(method, path, headers, body):
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, "no SigV4 Authorization"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    access_key, date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    want = {}
    for name in signed:
        value = headers.get(name)
        if value is None:
            return False, "signed header %s missing" % name
        want[name] = value
    req = AWSRequest(method=method, url="http://" + headers["Host"] + path, headers=want,
                     data=body)
    req.context["timestamp"] = headers.get("x-amz-date", "")
    if not req.context["timestamp"].startswith(date):
        return False, "x-amz-date outside the credential's day"
    signer = S3SigV4Auth(Credentials(access_key, SECRET), service, region)
    canonical = signer.canonical_request(req)
    sig = signer.signature(signer.string_to_sign(req, canonical), req)
    if sig != fields["Signature"]:
        return False, "signature mismatch"
    sha = headers.get("x-amz-content-sha256", "")
    if sha != hashlib.sha256(body).hexdigest():
        return False, "x-amz-content-sha256 is not the body's"
    md5 = headers.get("Content-MD5")
    if md5 and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
        return False, "Content-MD5 is not the body's"
    return True, ""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def error(self, status, code, message):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message></Error>" % (code, message)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def cut(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def handle_any(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        is_part = self.command == "PUT" and "partNumber=" in self.path
        if is_part and take("drop"):
            self.rfile.read(n // 2)
            log("%s %s drop sig=-" % (self.command, self.path))
            self.cut()
            return
        body = self.rfile.read(n) if n else b""
        ok, why = check_signature(self.command, self.path, self.headers, body)
        if not ok:
            log("%s %s 403 sig=bad (%s)" % (self.command, self.path, why))
            self.error(403, "SignatureDoesNotMatch", why)
            return
        if is_part and take("500"):
            log("%s %s 500 sig=ok" % (self.command, self.path))
            self.error(500, "InternalError", "injected by the test")
            return
        if is_part and take("slowdown"):
            log("%s %s 503 sig=ok" % (self.command, self.path))
            self.error(503, "SlowDown", "Please reduce your request rate.")
            return
        is_object_get = (self.command == "GET" and "?" not in self.path and
                         not self.path.endswith(".sha256"))
        up = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
        up.request(self.command, self.path, body=body if n else None, headers=headers)
        resp = up.getresponse()
        data = resp.read()
        drop = is_object_get and resp.status in (200, 206) and len(data) > 1 and take("dropget")
        log("%s %s %s sig=ok%s" % (self.command, self.path, "dropget" if drop else resp.status,
                                   " range=" + self.headers["Range"]
                                   if "Range" in self.headers else ""))
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", resp.getheader("Content-Length", "0")
                         if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if drop:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.cut()
            return
        if self.command != "HEAD":
            self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler)
server.daemon_threads = True
server.serve_forever()
