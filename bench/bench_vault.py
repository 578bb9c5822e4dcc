#!/usr/bin/python3
"""Vault unwrap operations per second over HTTPS with keep-alive.

Usage: bench/bench_vault.py CUSTOS_BIN

Starts its own vault (a fresh dev CA from `custos pki init`, `custos vault
serve` on a free port with a temporary data directory), creates one key
per case with the admin token, wraps a 32-byte key once, then has `wrk`
POST that unwrapkey request over keep-alive TLS connections for a few
seconds. Each figure is printed beside the limit measured in the same run
on the same machine:

- RSA: OpenSSL's private-key operations per second on one core (`openssl
  speed -seconds 2 -mr rsaN` right before the case, the sign column: one
  CRT private-key exponentiation with blinding, what an RSA-OAEP decrypt
  costs too) times the cores the vault uses. Target: RSA-2048 >= 0.80 of
  that limit.
- AES-256 (A256KW, oct key): target >= 20,000 unwraps/s on 2 cores.

The load generator runs on the same cores as the vault (there is no other
machine): every cycle wrk spends on TLS and HTTP is a cycle the vault does
not get. wrk is the cheap client here (one thread, epoll, keep-alive;
its CPU per request is printed beside the vault's). Each case also prints
the share of the machine that other processes took while it ran: the
machine is shared, and a busy neighbour lowers the figure. The whole run
stops everything it started and takes about 40 seconds; it fails only
when the vault or wrk fails, never on a slow figure.

Environment: CUSTOS_BENCH_SECONDS (per case, default 5),
CUSTOS_BENCH_CONNECTIONS (default 32), CUSTOS_BENCH_CASES (e.g.
"RSA-2048,AES-256").
"""

import base64
import json
import os
import re
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

API = "api-version=7.4"
DURATION_S = int(os.environ.get("CUSTOS_BENCH_SECONDS", "5"))
WARMUP_S = 1
CONNECTIONS = int(os.environ.get("CUSTOS_BENCH_CONNECTIONS", "32"))
WRK_THREADS = 1
AZURE_RSA2048_PER_VAULT = 400

CASES = [
    # label, key name, create body, alg, speed name
    ("RSA-2048", "bench-rsa2048", {"kty": "RSA", "key_size": 2048},
     "RSA-OAEP-256", "rsa2048"),
    ("RSA-3072", "bench-rsa3072", {"kty": "RSA", "key_size": 3072},
     "RSA-OAEP-256", "rsa3072"),
    ("RSA-4096", "bench-rsa4096", {"kty": "RSA", "key_size": 4096},
     "RSA-OAEP-256", "rsa4096"),
    ("AES-256", "bench-aes256", {"kty": "oct", "key_size": 256},
     "A256KW", None),
]

LUA = """-- POST one unwrapkey request, over and over, on keep-alive connections
wrk.method = "POST"
wrk.body = [[%(body)s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Vault:
    def __init__(self, custos, tmp):
        self.tmp = tmp
        pki = os.path.join(tmp, "pki")
        subprocess.run([custos, "pki", "init", "--dir", pki], check=True,
                       stdout=subprocess.DEVNULL)
        self.ca = os.path.join(pki, "ca.pem")
        self.data = os.path.join(tmp, "data")
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.logf = open(os.path.join(tmp, "vault.log"), "wb")
        self.proc = subprocess.Popen(
            [custos, "vault", "serve", "--listen",
             f"127.0.0.1:{self.port}",
             "--tls-cert", os.path.join(pki, "server.pem"),
             "--tls-key", os.path.join(pki, "server-key.pem"),
             "--data", self.data],
            stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.token = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the vault exited: " + self.log_tail())
            try:
                with open(os.path.join(self.data, "admin.token")) as f:
                    self.token = f.read().strip()
                self.call("GET", "/healthz")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError("the vault did not start: " + self.log_tail())

    def log_tail(self):
        try:
            with open(os.path.join(self.tmp, "vault.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx,
                                    timeout=30) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def openssl_speed(names):
    """Private-key (sign) operations per second on one core, by name."""
    if not names:
        return {}
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "-mr",
                          *names], check=True, capture_output=True,
                         text=True).stdout
    got = {}
    # "+F2:<n>:<bits>:<sign ops/s>:<verify ops/s>"
    for m in re.finditer(r"^\+F2:\d+:(\d+):([0-9.eE+-]+):", out, re.M):
        got["rsa" + m.group(1)] = float(m.group(2))
    return got


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def run_wrk(url, script, seconds):
    """Requests per second, non-2xx count, and wrk's CPU seconds."""
    t0 = os.times()
    p = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}",
                        f"-d{seconds}s", "-s", script, url],
                       capture_output=True, text=True, timeout=seconds + 30)
    t1 = os.times()
    if p.returncode != 0:
        raise RuntimeError("wrk failed: " + p.stderr + p.stdout)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", p.stdout)
    if m is None:
        raise RuntimeError("wrk printed no rate: " + p.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", p.stdout)
    errs = re.search(r"Socket errors:.*", p.stdout)
    cpu = ((t1.children_user - t0.children_user) +
           (t1.children_system - t0.children_system))
    return (float(m.group(1)), int(bad.group(1)) if bad else 0,
            errs.group(0) if errs else "", cpu)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    custos = os.path.abspath(sys.argv[1])
    if shutil.which("wrk") is None:
        print("vault bench: skipped (wrk is not installed: apt-get "
              "install wrk)")
        return 0
    ncores = cores()
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="custos-bench-vault-")
    vault = None
    failed = 0
    try:
        vault = Vault(custos, tmp)
        print(f"vault bench: {ncores} cores shared by the vault and the "
              f"load generator (wrk -t{WRK_THREADS} -c{CONNECTIONS}, "
              f"HTTPS keep-alive, {DURATION_S} s per case)")
        jobs = []
        only = os.environ.get("CUSTOS_BENCH_CASES")
        for label, name, create, alg, speed in CASES:
            if only and label not in only.split(","):
                continue
            kid = vault.call("POST", f"/keys/{name}/create?{API}",
                             create)["key"]["kid"]
            ver = kid.rsplit("/", 1)[1]
            wrapped = vault.call("POST", f"/keys/{name}/{ver}/wrapkey?{API}",
                                 {"alg": alg,
                                  "value": b64url(os.urandom(32))})
            path = f"/keys/{name}/{ver}/unwrapkey?{API}"
            body = json.dumps({"alg": alg, "value": wrapped["value"]})
            script = os.path.join(tmp, name + ".lua")
            with open(script, "w") as f:
                f.write(LUA % {"body": body, "token": vault.token})
            # one request by hand: the case must work before it is timed
            vault.call("POST", path, {"alg": alg,
                                      "value": wrapped["value"]})
            jobs.append((label, speed, vault.url + path, script))
        for label, speed, url, script in jobs:
            # the limit right before its case, so that both see the same
            # machine (other work on it slows both alike)
            limits = openssl_speed([speed] if speed else [])
            run_wrk(url, script, WARMUP_S)
            c0 = cpu_seconds(vault.proc.pid)
            m0 = machine_busy()
            rate, bad, errs, wrk_cpu = run_wrk(url, script, DURATION_S)
            vcpu = cpu_seconds(vault.proc.pid) - c0
            others = (machine_busy() - m0 - vcpu - wrk_cpu) / (
                ncores * DURATION_S)
            if bad:
                failed += 1
                print(f"vault unwrap {label}: {bad} responses were not "
                      f"2xx  FAIL")
            cost = (f"  cpu/op vault {vcpu / (rate * DURATION_S) * 1e6:.0f}"
                    f" us wrk {wrk_cpu / (rate * DURATION_S) * 1e6:.0f} us"
                    if rate > 0 else "")
            if speed is not None:
                per_core = limits.get(speed, 0.0)
                limit = per_core * ncores
                ratio = rate / limit if limit > 0 else 0.0
                verdict = ("ok" if label != "RSA-2048" else
                           ("ok" if ratio >= 0.80 else "below target"))
                target = (" (target >= 0.80)" if label == "RSA-2048"
                          else "")
                print(f"vault unwrap {label}: {rate:.0f} ops/s  limit "
                      f"{limit:.0f} ops/s ({per_core:.0f}/core x "
                      f"{ncores})  ratio {ratio:.2f}{target}"
                      f"{cost}  {verdict if target else ''}".rstrip())
            else:
                target = 20000 * ncores / 2
                print(f"vault unwrap {label}: {rate:.0f} ops/s  target "
                      f">= {target:.0f} ops/s on {ncores} cores  ratio "
                      f"{rate / target:.2f}{cost}  "
                      f"{'ok' if rate >= target else 'below target'}")
            if errs:
                print(f"  wrk: {errs}")
            if others > 0.05:
                print(f"  (other processes took {others:.0%} of the "
                      f"machine during this case: the figure is low)")
        print(f"context: Azure Key Vault allows "
              f"{AZURE_RSA2048_PER_VAULT} RSA-2048 operations per second "
              f"per vault; the load generator shared the vault's "
              f"{ncores} cores ({time.monotonic() - t_start:.0f} s in all)")
    except (RuntimeError, OSError, subprocess.SubprocessError,
            urllib.error.URLError, KeyError, ValueError) as e:
        print(f"vault bench: FAIL: {e}")
        failed += 1
    finally:
        if vault is not None:
            vault.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
