#!/usr/bin/env python3
"""Bounded load generator for `serve`: requests/s and p50/p99 latency of verify and identify at
several client concurrencies, against a server on this machine.

  tools/load_serve.py --a A.jpg --b B.jpg [--url http://127.0.0.1:8080] [--probe P.jpg]
                      [--gallery NAME] [--enrol NAME] [--token-file FILE] [--aligned]
                      [--endpoints verify,identify] [--concurrency 1,4,16]
                      [--duration 20] [--max-requests 2000] [--warmup 2] [--json OUT.json]

Each (endpoint, concurrency) level runs that many client threads, each on its own keep-alive
connection, sending the same request back to back until --duration seconds have passed or
--max-requests have been sent (whichever is first); --warmup requests per client before the
clock starts are not counted. Verify sends A and B; identify sends --probe (default: B) against
--gallery, which must hold someone: --enrol NAME enrols A under NAME first.

Bounded by construction: only loopback addresses are accepted, every request has a 60 s timeout,
the levels and their lengths are capped, and the run ends by itself. Standard library only.
Besides the latencies it reads the server's /metrics before and after each level to report how
many faces each forward pass embedded on average (the batching at work).
"""
import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
import urllib.parse
import uuid

MAX_CLIENTS = 64
MAX_DURATION_S = 600
MAX_REQUESTS = 100000
REQUEST_TIMEOUT_S = 60


def loopback(host):
    return host in ("localhost", "::1") or host.startswith("127.")


def multipart(fields):
    """fields: (name, filename, bytes or str). A multipart/form-data body and its Content-Type."""
    boundary = "----load-serve-" + uuid.uuid4().hex
    body = bytearray()
    for name, filename, data in fields:
        if isinstance(data, str):
            data = data.encode()
        body += f"--{boundary}\r\n".encode()
        if filename:
            body += f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
            body += b"Content-Type: application/octet-stream\r\n\r\n"
        else:
            body += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


def percentile(ordered, p):
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class Server:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            sys.exit(f"load_serve: --url must be http://HOST:PORT, got {url!r}")
        if not loopback(parts.hostname):
            sys.exit(f"load_serve: refusing {parts.hostname!r}: only loopback addresses (127.0.0.0/8, ::1, localhost)")
        self.host, self.port = parts.hostname, parts.port or 80

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)

    def call(self, method, path, body=None, content_type=None, headers=None):
        conn = self.connection()
        try:
            h = dict(headers or {})
            if content_type:
                h["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=h)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def counters(self):
        """face_faces_embedded_total and face_embed_batches_total from /metrics."""
        status, text = self.call("GET", "/metrics")
        values = {}
        for line in text.decode(errors="replace").splitlines():
            for name in ("face_faces_embedded_total", "face_embed_batches_total"):
                if line.startswith(name + " "):
                    values[name] = float(line.split()[1])
        return values


def run_level(server, path, body, content_type, clients, duration, max_requests, warmup):
    lock = threading.Lock()
    latencies, errors, statuses = [], [0], {}
    sent = [0]
    ready = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = [0.0]

    def one(conn):
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        response.read()
        return response.status

    def client():
        conn = server.connection()
        try:
            for _ in range(warmup):
                try:
                    one(conn)
                except (OSError, http.client.HTTPException):
                    conn.close()
            ready.wait(timeout=(warmup + 1) * REQUEST_TIMEOUT_S + 10)
            go.wait(timeout=(warmup + 1) * REQUEST_TIMEOUT_S + 10)
            while True:
                with lock:
                    if sent[0] >= max_requests or time.monotonic() >= deadline[0]:
                        break
                    sent[0] += 1
                start = time.perf_counter()
                try:
                    status = one(conn)
                except (OSError, http.client.HTTPException):
                    status = None
                    conn.close()  # http.client reconnects on the next request
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(elapsed)
                    else:
                        errors[0] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    ready.wait(timeout=(warmup + 1) * REQUEST_TIMEOUT_S + 10)  # every client has warmed up
    before = server.counters()
    start = time.monotonic()
    deadline[0] = start + duration
    go.set()
    for t in threads:
        t.join(duration + REQUEST_TIMEOUT_S + 5)
    wall = time.monotonic() - start
    after = server.counters()
    ordered = sorted(latencies)
    faces = after.get("face_faces_embedded_total", 0) - before.get("face_faces_embedded_total", 0)
    passes = after.get("face_embed_batches_total", 0) - before.get("face_embed_batches_total", 0)
    return {
        "clients": clients,
        "requests": len(ordered),
        "errors": errors[0],
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": round(wall, 3),
        "requests_per_s": round(len(ordered) / wall, 2) if wall > 0 else 0,
        "p50_ms": round(percentile(ordered, 50) * 1000, 1),
        "p99_ms": round(percentile(ordered, 99) * 1000, 1),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1) if ordered else float("nan"),
        "faces_per_forward_pass": round(faces / passes, 2) if passes else None,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--a", required=True, help="first image of the verify pair (and the one --enrol enrols)")
    p.add_argument("--b", required=True, help="second image of the verify pair")
    p.add_argument("--probe", help="image to identify (default: --b)")
    p.add_argument("--gallery", default="default")
    p.add_argument("--enrol", metavar="NAME", help="enrol --a as NAME into --gallery before identifying")
    p.add_argument("--token-file", help="token for --enrol, when the server needs one")
    p.add_argument("--aligned", action="store_true", help="the images are aligned faces (aligned=true)")
    p.add_argument("--endpoints", default="verify,identify")
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    p.add_argument("--max-requests", type=int, default=2000, help="requests per level at most")
    p.add_argument("--warmup", type=int, default=2, help="uncounted requests per client before each level")
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args()

    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if not levels or any(c < 1 or c > MAX_CLIENTS for c in levels):
        sys.exit(f"load_serve: --concurrency values must be in 1..{MAX_CLIENTS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        sys.exit(f"load_serve: --duration must be in (0, {MAX_DURATION_S}]")
    if not 1 <= args.max_requests <= MAX_REQUESTS:
        sys.exit(f"load_serve: --max-requests must be in 1..{MAX_REQUESTS}")
    if not 0 <= args.warmup <= 20:
        sys.exit("load_serve: --warmup must be in 0..20")
    if set(endpoints) - {"verify", "identify"}:
        sys.exit("load_serve: --endpoints takes verify and/or identify")

    server = Server(args.url)
    status, health = server.call("GET", "/healthz")
    if status != 200:
        sys.exit(f"load_serve: {args.url}/healthz answered {status}")
    health = json.loads(health)
    a, b = open(args.a, "rb").read(), open(args.b, "rb").read()
    probe = open(args.probe, "rb").read() if args.probe else b
    options = [("aligned", None, "true")] if args.aligned else []
    gallery = urllib.parse.quote(args.gallery, safe="")

    if args.enrol:
        headers = {}
        if args.token_file:
            headers["Authorization"] = "Bearer " + open(args.token_file).read().splitlines()[0].strip()
        body, ctype = multipart([("images", os.path.basename(args.a), a)] + options)
        path = f"/v1/galleries/{gallery}/people/{urllib.parse.quote(args.enrol, safe='')}/faces"
        status, text = server.call("POST", path, body, ctype, headers)
        if status not in (200, 201):
            sys.exit(f"load_serve: enrolling {args.enrol!r} failed ({status}): {text.decode(errors='replace')}")

    requests = {
        "verify": ("/v1/verify",) + multipart([("a", os.path.basename(args.a), a), ("b", os.path.basename(args.b), b)] + options),
        "identify": (f"/v1/galleries/{gallery}/identify",) + multipart([("image", "probe", probe)] + options),
    }
    print(f"server: {health['model']['description']} (threshold {health['threshold']:.4f}) at {args.url}")
    print(f"{'endpoint':<9} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'faces/pass':>10}")
    results = []
    for endpoint in endpoints:
        path, body, ctype = requests[endpoint]
        for clients in levels:
            r = run_level(server, path, body, ctype, clients, args.duration, args.max_requests, args.warmup)
            r["endpoint"] = endpoint
            results.append(r)
            print(f"{endpoint:<9} {clients:>7} {r['requests']:>8} {r['errors']:>6} {r['requests_per_s']:>8.2f} "
                  f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {str(r['faces_per_forward_pass']):>10}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"url": args.url, "model": health["model"], "threshold": health["threshold"],
                       "images": {"a": args.a, "b": args.b, "probe": args.probe or args.b},
                       "aligned": args.aligned, "duration_s": args.duration, "max_requests": args.max_requests,
                       "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "results": results}, f, indent=2)
            f.write("\n")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
