#!/usr/bin/python3
"""Store throughput over HTTPS beside a null-cipher store and nginx.

Usage: bench/bench_store.py CUSTOS_BIN

Starts three servers on free loopback ports, each over TLS with the same
development certificate (`custos pki init`) and its data in one temporary
directory on disk:

- the store under test (`custos store serve`, CUSTOS_BIN);
- the same store built with the benchmark-only null cipher (Makefile
  NULL_CIPHER=1: object segments are copied instead of sealed with
  AES-256-GCM, every other cost stays; `make bench` builds it in
  BUILD-nullcipher and passes it as CUSTOS_NULL_CIPHER_BIN);
- Debian's nginx (its own non-daemon instance with a temporary prefix),
  serving the same bytes as static files and taking PUTs through its
  WebDAV module (body to a temporary file, then a rename; no fsync, no
  hash): nginx's closest equivalent of a PUT, shown as context only.
  Its URLs carry the same query strings as the store's presigned ones
  (nginx ignores them), so the client sends both servers requests of the
  same length: at 4 KiB the client's one thread bounds both rates, and a
  presigned URL costs it 4-7 us more per request than a bare path.

Each store gets a tenant and a bucket; boto3 presigns one SigV4 URL per
object and method, once (the store verifies each request's signature as
it would any client's). The load comes from BUILD/bench/loadgen_http (C,
libcurl multi, one thread, keep-alive TLS connections; PUT bodies from a
pseudo-random pattern, so every server holds the same bytes; GET bodies
counted and dropped). For 4 KiB, 1 MiB and 64 MiB objects it PUTs and
then GETs them against each server for a warm-up and a measured window,
in three rounds (every other one in the reverse order, so that a change
in the machine's load favours no server), and prints each server's best
round: MiB/s (1 and 64 MiB) or operations per second (4 KiB), with the
ratios.
Targets: the store >= 0.90 x the null-cipher store; GET >= 0.70 x nginx.
Before that it PUTs one 5 GiB object (a generated stream, no file) to the
store and reads the store's peak RSS (VmHWM, reset before the PUT) from
/proc. Target: <= 64 MiB. The object is deleted afterwards.

Everything shares the machine's cores. Each case also prints every
server's CPU per operation or per MiB (all rounds, from /proc/PID/stat:
steadier than throughput on a shared machine), loadgen's beside it
("loadgen-bound" when loadgen used most of its one core: the server could
do more than the figure shows), the share of the store's CPU that
encryption takes (store minus null cipher), the ratio those CPU costs
predict when the two cores are the limit ("by cpu": the other server's
CPU per unit plus loadgen's, over the store's plus loadgen's), and the
share of the machine other processes took (a busy neighbour lowers the
throughput figures, much less the CPU ones). The run takes
about 4 minutes (the 5 GiB PUT 20-35 s of it), stops everything it started and
deletes its files; it fails only when a server or a request fails (or a
build is not the flavour it should be), never on a slow figure.

Environment: CUSTOS_BENCH_SECONDS (measured window per case and round,
default 3), CUSTOS_BENCH_ROUNDS (default 3),
CUSTOS_BENCH_BIG_GIB (the big PUT, default 5; 0 skips it),
CUSTOS_BENCH_DIR (where the temporary directory goes; default $TMPDIR or
/tmp), CUSTOS_NULL_CIPHER_BIN, CUSTOS_BENCH_CASES (e.g. "4KiB,64MiB";
default all).
"""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
# 3 s x 3 rounds: with 1.5 s x 2 the 1 MiB GET ratios of one build
# scattered over 0.57-0.91 between runs minutes apart
SECONDS = float(os.environ.get("CUSTOS_BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("CUSTOS_BENCH_ROUNDS", "3"))
WARMUP_S = 0.5
BIG_GIB = float(os.environ.get("CUSTOS_BENCH_BIG_GIB", "5"))
BIG_RSS_LIMIT = 64 * MIB
TARGET_NULL = 0.90
TARGET_NGINX_GET = 0.70
NULL_BANNER = "NULL CIPHER BUILD - benchmarks only, no confidentiality"
NGINX = "/usr/sbin/nginx"
LOADGEN_BOUND = 0.85  # of one core

# label, object size, loadgen connections, objects per server; figures
# for the small objects are operations per second, else MiB/s
CASES = [
    ("4KiB", 4 * KIB, 16, 256),
    ("1MiB", 1 * MIB, 4, 32),
    ("64MiB", 64 * MIB, 2, 4),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU seconds of processes so far (gone ones count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def proc_status(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def children(pid):
    """Direct child processes of pid (nginx's workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def pattern_head(n):
    """The first n bytes loadgen_http puts in every body (xorshift64*)."""
    x = 0x9e3779b97f4a7c15
    out = bytearray()
    mask = (1 << 64) - 1
    while len(out) < n:
        x ^= x >> 12
        x = (x ^ (x << 25)) & mask
        x ^= x >> 27
        out += ((x * 0x2545f4914f6cdd1d) & mask).to_bytes(8, "little")
    return bytes(out[:n])


def stop_proc(proc, sig=signal.SIGTERM):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Store:
    """A `custos store serve` on a free port, with a tenant and a bucket."""

    def __init__(self, custos, tmp, name, pki):
        self.name = name
        self.tmp = tmp
        self.data = os.path.join(tmp, name + "-data")
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.ca = os.path.join(pki, "ca.pem")
        token_file = os.path.join(tmp, name + "-operator.token")
        self.log_path = os.path.join(tmp, name + ".log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [custos, "store", "serve", "--listen",
             f"127.0.0.1:{self.port}",
             "--tls-cert", os.path.join(pki, "server.pem"),
             "--tls-key", os.path.join(pki, "server-key.pem"),
             "--data", self.data, "--operator-token-file", token_file],
            stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log_tail()}")
            try:
                self.call("GET", "/healthz")
                with open(token_file) as f:
                    self.token = f.read().strip()
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start: "
                                       f"{self.log_tail()}")
                time.sleep(0.1)
        tenant = self.call("POST", "/admin/v1/tenants", {"name": "bench"},
                           token=self.token)
        import boto3
        import botocore.config
        cfg = botocore.config.Config(s3={"addressing_style": "path"},
                                     signature_version="s3v4",
                                     retries={"max_attempts": 1})
        self.s3 = boto3.client(
            "s3", endpoint_url=self.url, verify=self.ca,
            region_name="us-east-1",
            aws_access_key_id=tenant["access_key_id"],
            aws_secret_access_key=tenant["secret_access_key"], config=cfg)
        self.s3.create_bucket(Bucket="bench")

    def pids(self):
        return [self.proc.pid]

    def log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def call(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx,
                                    timeout=30) as r:
            return json.loads(r.read() or b"null")

    def urls(self, method, keys):
        op = "put_object" if method == "PUT" else "get_object"
        return [self.s3.generate_presigned_url(
            op, Params={"Bucket": "bench", "Key": k}, ExpiresIn=3600)
            for k in keys]

    def stop(self):
        stop_proc(self.proc)
        self.logf.close()


class Nginx:
    """Debian's nginx, non-daemon, in a temporary prefix: static files
    under /bench/ and WebDAV PUT."""

    CONF = """%(user)sworker_processes %(workers)d;
pid %(p)s/nginx.pid;
error_log %(p)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log %(p)s/access.log;
    client_body_temp_path %(p)s/body;
    proxy_temp_path %(p)s/proxy;
    fastcgi_temp_path %(p)s/fastcgi;
    uwsgi_temp_path %(p)s/uwsgi;
    scgi_temp_path %(p)s/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_max_body_size 0;
    types { }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(pki)s/server.pem;
        ssl_certificate_key %(pki)s/server-key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root %(p)s/www;
        location / {
            dav_methods PUT;
            create_full_put_path on;
        }
    }
}
"""

    def __init__(self, tmp, pki):
        self.prefix = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.prefix, "www", "bench"))
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        conf = os.path.join(self.prefix, "nginx.conf")
        # Run as root (containers), nginx's workers would become nobody,
        # who cannot write the temporary directory: keep them as we are,
        # like the stores.
        user = ""
        if os.geteuid() == 0:
            import grp
            import pwd
            user = (f"user {pwd.getpwuid(0).pw_name} "
                    f"{grp.getgrgid(os.getegid()).gr_name};\n")
        with open(conf, "w") as f:
            f.write(self.CONF % {"p": self.prefix, "port": self.port,
                                 "pki": pki, "workers": cores(),
                                 "user": user})
        self.logf = open(os.path.join(self.prefix, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.prefix, "-c", conf, "-e",
             os.path.join(self.prefix, "error.log"), "-g", "daemon off;"],
            stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: " + self.log_tail())
            try:
                urllib.request.urlopen(self.url + "/bench/", context=ctx,
                                       timeout=5).read()
            except urllib.error.HTTPError:
                break  # it answers (403 for the directory is fine)
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: " +
                                       self.log_tail())
                time.sleep(0.1)
            else:
                break

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def log_tail(self):
        try:
            with open(os.path.join(self.prefix, "error.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def urls(self, method, keys, like=None):
        """Static URLs of the keys; with `like` (the store's presigned
        URLs of the same keys), each carrying the same query string, which
        nginx ignores: the client then sends both servers requests of the
        same length. A 350-byte presigned URL costs loadgen's one thread
        several microseconds more per request than a bare path, and at
        4 KiB that thread is what bounds both servers' rates."""
        if like is None:
            return [f"{self.url}/bench/{k}" for k in keys]
        return [f"{self.url}/bench/{k}?{u.partition('?')[2]}"
                for k, u in zip(keys, like)]

    def stop(self):
        stop_proc(self.proc, signal.SIGQUIT)
        self.logf.close()


def parse_loadgen(out):
    got = {}
    for field in out.split():
        k, _, v = field.partition("=")
        got[k] = v
    for k in ("ops", "bytes", "all_ops", "all_bytes", "errors",
              "connects"):
        got[k] = int(got.get(k, "0"))
    for k in ("seconds", "cpu"):
        got[k] = float(got.get(k, "0"))
    return got


class Bench:
    def __init__(self, loadgen, tmp, ca):
        self.loadgen = loadgen
        self.tmp = tmp
        self.ca = ca
        self.ncores = cores()

    def url_file(self, name, urls):
        path = os.path.join(self.tmp, name + ".urls")
        with open(path, "w") as f:
            f.write("\n".join(urls) + "\n")
        return path

    def run(self, server, method, urls, size, conns, seconds):
        """One loadgen run; the figures and CPU of everyone involved."""
        args = [self.loadgen, "--method", method, "--urls", urls,
                "--cacert", self.ca, "--conns", str(conns),
                "--size", str(size), "--seconds", str(seconds),
                "--warmup", str(WARMUP_S if seconds > 0 else 0)]
        pids = server.pids()
        c0, m0, w0, t0 = (cpu_seconds(pids), machine_busy(),
                          time.monotonic(), os.times())
        p = subprocess.Popen(args, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=seconds + 180 if seconds > 0
                                 else 900)
        c1, m1, t1 = cpu_seconds(pids), machine_busy(), os.times()
        wall = max(time.monotonic() - w0, 1e-9)
        if p.returncode != 0:
            raise RuntimeError(f"loadgen failed ({p.returncode}): "
                               f"{err.strip()} {out.strip()}")
        r = parse_loadgen(out)
        if r["errors"]:
            raise RuntimeError(f"{r['errors']} requests failed "
                               f"({r.get('first_error', '?')}); server: "
                               f"{server.log_tail()[-600:]}")
        secs = r["seconds"] or 1e-9
        # the server's CPU for the whole run (warm-up and the requests
        # that finished after the window too), set against all it did
        r["server_cpu"] = c1 - c0
        # the share of the machine that neither took, over the whole run
        lg_cpu = ((t1.children_user - t0.children_user) +
                  (t1.children_system - t0.children_system))
        r["others"] = max(0.0, (m1 - m0 - (c1 - c0) - lg_cpu) /
                          (self.ncores * wall))
        r["mibs"] = r["bytes"] / MIB / secs
        r["ops_s"] = r["ops"] / secs
        return r


def verdict(ratio, target):
    return "ok" if ratio >= target else "BELOW target"


def fmt_rate(r, small):
    return (f"{r['ops_s']:.0f} ops/s" if small
            else f"{r['mibs']:.0f} MiB/s")


def unit_cpu(r, small):
    """The server's CPU seconds per operation or per MiB."""
    if small:
        return r["server_cpu"] / max(r["all_ops"], 1)
    return r["server_cpu"] / max(r["all_bytes"] / MIB, 1e-9)


def unit_cpu_all(r, small):
    """Server and loadgen CPU seconds per operation or per MiB."""
    if small:
        return unit_cpu(r, small) + r["cpu"] / max(r["ops"], 1)
    return unit_cpu(r, small) + r["cpu"] / max(r["bytes"] / MIB, 1e-9)


def cpu_ratio(s, other, small):
    """The throughput ratio the CPU costs predict when the cores are the
    limit: the other server's CPU per unit (with loadgen's) over the
    store's. Steadier than measured throughput on a busy machine."""
    sc = unit_cpu_all(s, small)
    return unit_cpu_all(other, small) / sc if sc > 0 else 0.0


def combine(runs, rate):
    """The best round's rate (other load only ever slows a run down);
    CPU and work summed over all rounds for the costs."""
    c = dict(max(runs, key=lambda r: r[rate]))
    c["best_cpu_share"] = c["cpu"] / max(c["seconds"], 1e-9)
    for k in ("server_cpu", "cpu", "ops", "bytes", "all_ops", "all_bytes"):
        c[k] = sum(r[k] for r in runs)
    c["others"] = max(r["others"] for r in runs)
    return c


def cost(r, small):
    """CPU per operation (small objects) or per MiB, in us or ms: the
    server's over the whole run, loadgen's over the window."""
    if small:
        return (f"{r['server_cpu'] / max(r['all_ops'], 1) * 1e6:.0f} us/op",
                f"{r['cpu'] / max(r['ops'], 1) * 1e6:.0f} us/op")
    return (f"{r['server_cpu'] / max(r['all_bytes'] / MIB, 1e-9) * 1e3:.2f}"
            f" ms/MiB",
            f"{r['cpu'] / max(r['bytes'] / MIB, 1e-9) * 1e3:.2f} ms/MiB")


def big_put(bench, store, size):
    """PUT one generated object of `size` bytes; the store's peak RSS."""
    key = "big-object"
    urls = bench.url_file("big-put", store.urls("PUT", [key]))
    pid = store.proc.pid
    rss0 = proc_status(pid, "VmRSS")
    try:
        # reset VmHWM to the current RSS (Linux >= 4.0)
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    args = [bench.loadgen, "--method", "PUT", "--urls", urls, "--cacert",
            bench.ca, "--conns", "1", "--size", str(size), "--seconds", "0"]
    c0, m0, t0 = cpu_seconds([pid]), machine_busy(), time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    peak_sampled = rss0
    while p.poll() is None:
        try:
            peak_sampled = max(peak_sampled, proc_status(pid, "VmRSS"))
        except (OSError, RuntimeError):
            break
        time.sleep(0.05)
    out, err = p.communicate(timeout=60)
    wall = time.monotonic() - t0
    c1, m1 = cpu_seconds([pid]), machine_busy()
    hwm = proc_status(pid, "VmHWM")
    if p.returncode != 0:
        raise RuntimeError(f"the big PUT failed: {err.strip()}")
    r = parse_loadgen(out)
    if r["errors"]:
        raise RuntimeError(f"the big PUT failed: {r.get('first_error')}: "
                           f"{store.log_tail()[-600:]}")
    head = store.s3.head_object(Bucket="bench", Key=key)
    if head["ContentLength"] != size:
        raise RuntimeError(f"the big object has {head['ContentLength']} "
                           f"bytes, not {size}")
    store.s3.delete_object(Bucket="bench", Key=key)
    others = max(0.0, (m1 - m0 - (c1 - c0) - r["cpu"]) /
                 (bench.ncores * wall))
    gib = size / GIB
    print(f"store PUT {gib:g} GiB: peak RSS {hwm / MIB:.1f} MiB "
          f"(VmHWM{'' if reset else ' since start'}; {rss0 / MIB:.1f} "
          f"MiB before, sampled peak {peak_sampled / MIB:.1f} MiB)  "
          f"target <= {BIG_RSS_LIMIT // MIB} MiB  "
          f"{'ok' if hwm <= BIG_RSS_LIMIT else 'ABOVE target'}")
    print(f"  {r['seconds']:.1f} s, {size / MIB / r['seconds']:.0f} MiB/s "
          f"(one connection; fsync'd); cpu store {c1 - c0:.1f} s, "
          f"loadgen {r['cpu']:.1f} s"
          + (f"; other processes took {others:.0%} of the machine"
             if others > 0.05 else ""))
    return hwm <= BIG_RSS_LIMIT


def check_stored_plaintext(store, expect_plain):
    """Whether the store's object files hold the plaintext pattern: only
    the null-cipher build may."""
    head = pattern_head(64)
    root = os.path.join(store.data, "objects")
    for d, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                if (head in f.read(8192)) != expect_plain:
                    return False
            return True
    return False


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    custos = os.path.abspath(sys.argv[1])
    build = os.path.dirname(custos)
    loadgen = os.path.join(build, "bench", "loadgen_http")
    null_bin = os.environ.get("CUSTOS_NULL_CIPHER_BIN") or (
        build + "-nullcipher/custos")
    for what, path in (("loadgen_http", loadgen), ("nginx", NGINX)):
        if not os.access(path, os.X_OK):
            print(f"store bench: skipped ({what} is missing: {path})")
            return 0
    try:
        import boto3  # noqa: F401 (presigns the URLs)
    except ImportError:
        print("store bench: skipped (python3-boto3 is not installed)")
        return 0
    banner = subprocess.run([custos, "version"], capture_output=True,
                            text=True).stdout
    if NULL_BANNER in banner:
        print(f"store bench: FAIL: {custos} is a null-cipher build")
        return 1
    if not os.access(null_bin, os.X_OK):
        print(f"store bench: no null-cipher build at {null_bin} ("
              f"`make bench` builds one); comparing with nginx only")
        null_bin = None
    elif NULL_BANNER not in subprocess.run(
            [null_bin, "version"], capture_output=True, text=True).stdout:
        print(f"store bench: FAIL: {null_bin} is not a null-cipher build")
        return 1

    t_start = time.monotonic()
    ncores = cores()
    tmp = tempfile.mkdtemp(prefix="custos-bench-store-",
                           dir=os.environ.get("CUSTOS_BENCH_DIR"))
    servers = []
    failed = 0
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run([custos, "pki", "init", "--dir", pki], check=True,
                       stdout=subprocess.DEVNULL)
        ca = os.path.join(pki, "ca.pem")
        store = Store(custos, tmp, "store", pki)
        servers.append(store)
        null = None
        if null_bin:
            null = Store(null_bin, tmp, "nullcipher", pki)
            servers.append(null)
            with open(null.log_path, "rb") as f:
                if NULL_BANNER.encode() not in f.read():
                    raise RuntimeError("the null-cipher store did not log "
                                       "its banner")
        nginx = Nginx(tmp, pki)
        servers.append(nginx)
        bench = Bench(loadgen, tmp, ca)
        targets = [("store", store)] + (
            [("null cipher", null)] if null else []) + [("nginx", nginx)]
        print(f"store bench: {ncores} cores shared by the servers and "
              f"loadgen_http (libcurl, one thread, keep-alive TLS); "
              f"{WARMUP_S:g} s warm-up + {SECONDS:g} s per case; data in "
              f"{tmp}")

        if BIG_GIB > 0:
            # a figure above target is reported, never a failure
            big_put(bench, store, int(BIG_GIB * GIB))

        tls = {}
        only = os.environ.get("CUSTOS_BENCH_CASES")
        for label, size, conns, nobj in CASES:
            if only and label not in only.split(","):
                continue
            small = size < MIB
            rate = "ops_s" if small else "mibs"
            keys = [f"obj-{label}-{i:04d}" for i in range(nobj)]
            results = {}
            for method in ("PUT", "GET"):
                signed = store.urls(method, keys)
                urls = {name: bench.url_file(
                    f"{name}-{label}-{method}",
                    signed if srv is store else
                    nginx.urls(method, keys, signed) if srv is nginx else
                    srv.urls(method, keys))
                    for name, srv in targets}
                runs = {name: [] for name, _ in targets}
                # alternate the order, so that drift in the machine's
                # load favours no one
                for rnd in range(ROUNDS):
                    order = targets if rnd % 2 == 0 else targets[::-1]
                    for name, srv in order:
                        r = bench.run(srv, method, urls[name], size,
                                      conns, SECONDS)
                        runs[name].append(r)
                        tls[name] = r.get("tls", "?")
                for name, _ in targets:
                    results[(method, name)] = combine(runs[name], rate)
            if label == "4KiB" and null is not None:
                if not check_stored_plaintext(store, False) or \
                        not check_stored_plaintext(null, True):
                    raise RuntimeError("stored bytes: the store's should "
                                       "be encrypted, the null cipher's "
                                       "plaintext")
            for method in ("PUT", "GET"):
                s = results[(method, "store")]
                line = (f"store {method} {label} (x{conns} conns): "
                        f"{fmt_rate(s, small)}")
                if null is not None:
                    n = results[(method, "null cipher")]
                    ratio = s[rate] / n[rate] if n[rate] else 0.0
                    line += (f"  null cipher {fmt_rate(n, small)} ratio "
                             f"{ratio:.2f} (target >= {TARGET_NULL:.2f}) "
                             f"{verdict(ratio, TARGET_NULL)}, by cpu "
                             f"{cpu_ratio(s, n, small):.2f}")
                g = results[(method, "nginx")]
                ratio = s[rate] / g[rate] if g[rate] else 0.0
                if method == "GET":
                    line += (f"  nginx {fmt_rate(g, small)} ratio "
                             f"{ratio:.2f} (target >= "
                             f"{TARGET_NGINX_GET:.2f}) "
                             f"{verdict(ratio, TARGET_NGINX_GET)}, by cpu "
                             f"{cpu_ratio(s, g, small):.2f}")
                else:
                    line += (f"  nginx (WebDAV, no fsync) "
                             f"{fmt_rate(g, small)} ratio {ratio:.2f}")
                print(line)
                costs = []
                for name, _ in targets:
                    r = results[(method, name)]
                    sc, lc = cost(r, small)
                    # one core is all loadgen has: near it, the server
                    # could do more than this figure shows
                    bound = (", loadgen-bound" if r["best_cpu_share"] >=
                             LOADGEN_BOUND else "")
                    costs.append(f"{name} {sc} (loadgen {lc}{bound})")
                line = "  cpu: " + ", ".join(costs)
                if null is not None:
                    sc = unit_cpu(results[(method, "store")], small)
                    nc = unit_cpu(results[(method, "null cipher")], small)
                    if sc > 0:
                        line += (f"; encryption {(sc - nc) / sc:.0%} of "
                                 f"the store's cpu")
                busy = max(results[(method, name)]["others"]
                           for name, _ in targets)
                if busy > 0.05:
                    line += (f"; other processes took up to {busy:.0%} of "
                             f"the machine")
                print(line)
        print("context: TLS " + ", ".join(f"{k} {v}" for k, v in
                                          tls.items()) +
              f"; nginx {ncores} workers, access log on; stores log one "
              f"line per request; {time.monotonic() - t_start:.0f} s in all")
    except (RuntimeError, OSError, subprocess.SubprocessError,
            urllib.error.URLError, KeyError, ValueError) as e:
        print(f"store bench: FAIL: {e}")
        failed += 1
    except Exception as e:  # boto3/botocore errors
        print(f"store bench: FAIL: {type(e).__name__}: {e}")
        failed += 1
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
