#!/usr/bin/env python3
"""Writes the signature vectors of tests/vectors.rs, computed by other code than pixfuse's:
Python's urllib for the vendor guide's form-encoded reading (keys in body order, and sorted as
Go's url.Values.Encode sorts them) and Node's URLSearchParams (another
stack's escaping of '~'), Node's encodeURIComponent for the production kit's reading.
Run from this directory: python3 vectors.py (needs python3 and node); paste the output."""
import base64, hashlib, hmac, json, subprocess, urllib.parse

SECRET = "pixfuse-test-secret-2f9a"
TS = "1764547200"
NONCE = "Qm9wYXlsb2FkTm9uY2UxMjM0NTY3ODlh"

def sign(payload):
    msg = f"{TS}\n{NONCE}\n{payload}".encode()
    return base64.b64encode(hmac.new(SECRET.encode(), msg, hashlib.sha256).digest()).decode()

def url_search_params(pairs):
    script = ("const p = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "process.stdout.write(new URLSearchParams(p).toString())")
    return subprocess.run(["node", "-e", script], input=json.dumps(pairs).encode(),
                          capture_output=True, check=True).stdout.decode()

def uri_component(raw):
    return subprocess.run(["node", "-e", "process.stdout.write(encodeURIComponent(require('fs').readFileSync(0, 'utf8')))"],
                          input=raw.encode(), capture_output=True, check=True).stdout.decode()

guide = ('{"id":"318004563312345","status":1,"url":"https://media.example/openapi/output/'
         '318004563312345.mp4?auth_key=1764547200-0-0-ab~c&name=dog in room","size":10.5,'
         '"has_audio":true,"credits":100}')
# The vendor's pairs as a server that holds them would write them: no JSON parsing here.
guide_pairs = [("id", "318004563312345"), ("status", "1"),
               ("url", "https://media.example/openapi/output/318004563312345.mp4?auth_key=1764547200-0-0-ab~c&name=dog in room"),
               ("size", "10.5"), ("has_audio", "true"), ("credits", "100")]
kit = '{"id": 318004563312346, "status": 8, "url": "", "credits": 0, "note": "caf\u00e9 (x)*!\'"}\n'
sorted_body = '{"status":7,"id":9007199254740993,"credits":0}'
sorted_pairs = sorted([("status", "7"), ("id", "9007199254740993"), ("credits", "0")])

print(f"GUIDE_SIG = {sign(urllib.parse.urlencode(guide_pairs))!r}")
print(f"GUIDE_JS_SIG = {sign(url_search_params(guide_pairs))!r}")
print(f"KIT_SIG = {sign(uri_component(kit))!r}")
print(f"SORTED_SIG = {sign(urllib.parse.urlencode(sorted_pairs))!r}")
assert json.loads(guide)["url"] == guide_pairs[2][1]
