#!/usr/bin/env python3
"""A legacy user API to try lazy migration with (README, "Migrating users from a legacy
system"): what a customer's old system might expose, with the protocol example-hooks/legacy-login
speaks. Not for production: one user in memory, plain HTTP.

    python3 scripts/legacy-api-demo.py PORT KEY

- POST /v1/verify {"email", "password"}: 200 and the user, 401 for a wrong password, 404 for an
  unknown email;
- GET /v1/users?email=...: 200 and the user, or 404;
- GET /v1/users/count: {"count": n}.

Every request needs `Authorization: Bearer KEY`. Passwords are kept as salted SHA-1, a format
Sigil refuses at import: only a login can move these users.
"""

import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def sha1(salt, password):
    return hashlib.sha1((salt + password).encode()).hexdigest()


USERS = {
    "grace@legacy.example": {
        "salt": "9f2c",
        "sha1": sha1("9f2c", "cobol forever"),
        "profile": {
            "id": "L-1001",
            "email": "grace@legacy.example",
            "email_verified": True,
            "name": "Grace Hopper",
            "roles": ["admin"],
            "org_id": "crm-7",
            "org_roles": ["org:billing"],
            "department": "navy",
        },
    }
}


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.headers.get("authorization") == "Bearer " + KEY:
            return True
        self.reply(403, {"error": "bad key"})
        return False

    def do_POST(self):
        if urlparse(self.path).path != "/v1/verify":
            return self.reply(404)
        if not self.authorized():
            return
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        user = USERS.get(str(body.get("email", "")).lower())
        if user is None:
            return self.reply(404, {"error": "unknown user"})
        if sha1(user["salt"], str(body.get("password", ""))) != user["sha1"]:
            return self.reply(401, {"error": "wrong password"})
        self.reply(200, user["profile"])

    def do_GET(self):
        url = urlparse(self.path)
        if not self.authorized():
            return
        if url.path == "/v1/users/count":
            return self.reply(200, {"count": len(USERS)})
        if url.path == "/v1/users":
            email = parse_qs(url.query).get("email", [""])[0].lower()
            user = USERS.get(email)
            return self.reply(200, user["profile"]) if user else self.reply(404)
        self.reply(404)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    KEY = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
