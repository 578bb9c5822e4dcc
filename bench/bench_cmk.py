#!/usr/bin/python3
"""Customer-managed keys: revocation, version pick-up, root swap and the
steady-state unwrap rate (issue 5; DESIGN.md section 6).

Usage: bench/bench_cmk.py CUSTOS_BIN

Starts its own processes on free loopback ports, in one temporary
directory, the way tests/e2e/conftest.py does: a development PKI (`custos
pki init`, a client certificate for the store), a tenant vault (soft
delete 7 days, purge protection, the store registered as principal
custos-store by its certificate's fingerprint) and two stores that
present that certificate and trust the vault's CA, both with a 5 s lease
and the key check every lease:

- the "events" store (the default: it follows the vault's key event
  stream);
- the "polling" store (`--vault-events no`: only the lease and the
  periodic check bound what it notices).

Each tenant gets its own RSA-2048 key in the vault and the role Key Vault
Crypto Service Encryption User on it (key scope), and is put on that key
(kid without a version: it follows the latest). Then:

1. Revocation propagation: the time from the vault's denial (the
   response to DELETE of the store's role assignment, or to PATCH
   enabled=false of the key) to the first GET of an object answered 403
   CustomerKeyInaccessible, GETs (a presigned URL, keep-alive) sent every
   POLL_MS in a loop. Between trials access is restored (the role
   re-assigned, the key re-enabled) and the bench waits until the tenant
   is active and a GET succeeds again. With the polling store it then
   GETs every 50 ms for a random part of the lease before the denial,
   so that the denial falls anywhere in a lease (leases end and are
   renewed as under steady traffic), and asks for a check at once
   after the restore (POST .../encryption/check; only to save time
   between trials).
2. Version pick-up: the time from the response to POST /keys/NAME/rotate
   (the new version exists) to GET .../encryption showing it as
   version_in_use (polled every STATUS_POLL_MS). With the polling store
   each rotation waits a random part of the check interval first, so
   that it falls anywhere between two checks.
   With the polling store, 1 (both denials) and 2 run at the same time
   on three tenants (each trial waits for the lease or the check, so
   running them one after the other would take minutes).
   Targets: <= 1 s with events, <= lease + 1 s (6 s) by polling.
3. Root swap: a tenant holding 100 MiB and one holding 2 GiB of 8 MiB
   objects (PUT by BUILD/bench/loadgen_http to presigned URLs), swapped
   from key A to key B and back (PUT .../encryption): the time from the
   PUT to the state active again on the new key. The ratio of the two
   medians has a target of about 1 (a swap re-wraps tenant keys, never
   data). Needs 6 GiB free in the temporary directory, else skipped.
4. Steady-state unwraps: N tenants on their keys in the one vault, GETs
   across all of them from loadgen_http for a window; the vault's audit
   log (GET /admin/v1/audit?since=SEQ) counts the store's unwrapkey
   calls in the window; printed beside N / lease (one per tenant per
   lease).

Figures (median, 90th percentile, max) are printed beside their
targets, with how busy the machine was; for each trial above its target
the store's calls on that key in the vault's audit log around it (what
the store did when, to tell a slow vault from a store that waited). The
bench fails (non-zero
exit) only when a server or a request fails, never on a slow figure.
Everything started is stopped and the directory deleted at the end.

Environment: CUSTOS_BENCH_CMK_TRIALS (trials of 1 and 2 per case,
default 20), CUSTOS_BENCH_CMK_POLL_TRIALS (polling-store trials, default
the same), CUSTOS_BENCH_CMK_SWAP_TRIALS (default 10),
CUSTOS_BENCH_CMK_BIG_GIB (the big tenant, default 2; 0 skips 3),
CUSTOS_BENCH_CMK_TENANTS (N of 4, default 10),
CUSTOS_BENCH_CMK_STEADY_SECONDS (default 30), CUSTOS_BENCH_DIR (where
the temporary directory goes).
"""

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

API = "api-version=7.4"
CSEU = "Key Vault Crypto Service Encryption User"
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
LEASE_S = 5
POLL_MS = 5  # between GETs while waiting for the first refusal
STATUS_POLL_MS = 10
TARGET_EVENTS_S = 1.0
TARGET_POLLING_S = LEASE_S + 1.0
TRIAL_TIMEOUT_S = 30.0  # a trial that sees nothing by then fails

TRIALS = int(os.environ.get("CUSTOS_BENCH_CMK_TRIALS", "20"))
POLL_TRIALS = int(os.environ.get("CUSTOS_BENCH_CMK_POLL_TRIALS",
                                 str(TRIALS)))
SWAP_TRIALS = int(os.environ.get("CUSTOS_BENCH_CMK_SWAP_TRIALS", "10"))
BIG_GIB = float(os.environ.get("CUSTOS_BENCH_CMK_BIG_GIB", "2"))
SMALL_MIB = 100
OBJ_SIZE = 8 * MIB
DISK_NEEDED = 6 * GIB
N_TENANTS = int(os.environ.get("CUSTOS_BENCH_CMK_TENANTS", "10"))
STEADY_S = float(os.environ.get("CUSTOS_BENCH_CMK_STEADY_SECONDS", "30"))
STEADY_WARMUP_S = 2.0
STEADY_CONNS = 2


class BenchError(Exception):
    """A server or a request failed: the bench fails."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_busy():
    """Busy CPU seconds of the whole machine so far (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Proc:
    """A long-running custos process with its log."""

    def __init__(self, custos, args, log_path, name):
        self.name = name
        self.log_path = log_path
        self.logf = open(log_path, "wb")
        self.proc = subprocess.Popen([custos, *args], stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def wait_healthy(self, url, ca, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited "
                                 f"{self.proc.returncode}: "
                                 f"{self.log_tail()}")
            try:
                if requests.get(url + "/healthz", verify=ca,
                                timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise BenchError(f"{self.name} did not answer /healthz: "
                         f"{self.log_tail()}")

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be
        killed)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.logf.close()
                return None
        self.logf.close()
        return self.proc.returncode


class Vault:
    def __init__(self, custos, tmp, pki):
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.ca = os.path.join(pki, "ca.pem")
        self.data = os.path.join(tmp, "vault-data")
        self.proc = Proc(custos, [
            "vault", "serve", "--listen", f"127.0.0.1:{self.port}",
            "--tls-cert", os.path.join(pki, "server.pem"),
            "--tls-key", os.path.join(pki, "server-key.pem"),
            "--client-ca", self.ca, "--data", self.data,
            "--retention-days", "7", "--purge-protection"],
            os.path.join(tmp, "vault.log"), "the vault")
        self.proc.wait_healthy(self.url, self.ca)
        with open(os.path.join(self.data, "admin.token")) as f:
            self.token = f.read().strip()
        self.local = threading.local()

    def session(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
            s.headers["Authorization"] = "Bearer " + self.token
        return s

    def call(self, method, path, body=None, expect=(200,)):
        # verify on every request: a session's own is overridden by
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment
        r = self.session().request(method, self.url + path, json=body,
                                   verify=self.ca, timeout=60)
        if r.status_code not in expect:
            raise BenchError(f"vault {method} {path}: {r.status_code} "
                             f"{r.text[:300]}")
        return r.json() if r.content else None

    def create_key(self, name):
        kid = self.call("POST", f"/keys/{name}/create?{API}",
                        {"kty": "RSA", "key_size": 2048})["key"]["kid"]
        return kid.rsplit("/", 1)[1]

    def rotate(self, name):
        kid = self.call("POST", f"/keys/{name}/rotate?{API}")["key"]["kid"]
        return kid.rsplit("/", 1)[1]

    def assign(self, name):
        self.call("PUT", f"/admin/v1/role-assignments/store-{name}",
                  {"principal": "custos-store", "role": CSEU,
                   "scope": f"/keys/{name}"})

    def unassign(self, name):
        self.call("DELETE", f"/admin/v1/role-assignments/store-{name}",
                  expect=(200, 204))

    def set_enabled(self, name, on):
        self.call("PATCH", f"/keys/{name}?{API}",
                  {"attributes": {"enabled": on}})

    def audit_since(self, since):
        """Audit records after seq since. Reading the log is audited
        too, so a short page ends it (never an empty one)."""
        out = []
        while True:
            page = self.call("GET", f"/admin/v1/audit?since={since}"
                             f"&max=1000")["value"]
            out += page
            if len(page) < 1000:
                return out
            since = page[-1]["seq"]

    def audit_last(self):
        """The sequence number of the last audit record."""
        recs = self.audit_since(0)
        return recs[-1]["seq"] if recs else 0


class Store:
    def __init__(self, custos, tmp, pki, name, *extra):
        self.name = name
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.ca = os.path.join(pki, "ca.pem")
        self.data = os.path.join(tmp, name + "-data")
        token_file = os.path.join(tmp, name + "-operator.token")
        self.proc = Proc(custos, [
            "store", "serve", "--listen", f"127.0.0.1:{self.port}",
            "--tls-cert", os.path.join(pki, "server.pem"),
            "--tls-key", os.path.join(pki, "server-key.pem"),
            "--data", self.data, "--operator-token-file", token_file,
            "--client-cert", os.path.join(pki, "client-custos-store.pem"),
            "--client-key", os.path.join(pki,
                                         "client-custos-store-key.pem"),
            "--vault-ca", self.ca, "--lease-seconds", str(LEASE_S),
            *extra], os.path.join(tmp, name + ".log"), f"store {name}")
        self.proc.wait_healthy(self.url, self.ca)
        with open(token_file) as f:
            self.token = f.read().strip()

    def admin(self, method, path, token=None, body=None, expect=(200,),
              session=None):
        s = session or requests
        r = s.request(method, self.url + path, json=body, verify=self.ca,
                      timeout=60,
                      headers={"Authorization":
                               "Bearer " + (token or self.token)})
        if r.status_code not in expect:
            raise BenchError(f"store {self.name} {method} {path}: "
                             f"{r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def s3(self, tenant):
        import boto3
        import botocore.config
        cfg = botocore.config.Config(s3={"addressing_style": "path"},
                                     signature_version="s3v4",
                                     retries={"max_attempts": 1})
        return boto3.client(
            "s3", endpoint_url=self.url, verify=self.ca,
            region_name="us-east-1",
            aws_access_key_id=tenant["access_key_id"],
            aws_secret_access_key=tenant["secret_access_key"], config=cfg)


class Tenant:
    """A store tenant on its own customer key (following the latest
    version), a bucket and one small object."""

    def __init__(self, store, vault, name, key=None, body=b"x" * 4096):
        self.store = store
        self.vault = vault
        self.name = name
        self.t = store.admin("POST", "/admin/v1/tenants", body={"name": name},
                             expect=(201,))
        self.id = self.t["id"]
        self.key = key or f"k-{name}"
        self.s3 = store.s3(self.t)
        self.s3.create_bucket(Bucket="bkt")
        self.s3.put_object(Bucket="bkt", Key="o", Body=body)
        self.get_url = self.presign("get_object", "o")
        self.session = requests.Session()
        if key is None:
            self.version = vault.create_key(self.key)
            vault.assign(self.key)
        self.enable(self.key)
        self.wait_state("active")

    def presign(self, op, key):
        return self.s3.generate_presigned_url(
            op, Params={"Bucket": "bkt", "Key": key}, ExpiresIn=7200)

    def kid(self, key):
        return f"{self.vault.url}/keys/{key}"

    def enable(self, key):
        self.store.admin("PUT", f"/admin/v1/tenants/{self.id}/encryption",
                         token=self.t["admin_token"],
                         body={"mode": "customer_managed",
                               "keys": [{"kid": self.kid(key)}],
                               "availability_key": False},
                         expect=(202,), session=self.session)

    def status(self):
        return self.store.admin("GET",
                                f"/admin/v1/tenants/{self.id}/encryption",
                                token=self.t["admin_token"],
                                session=self.session)

    def check(self):
        self.store.admin("POST",
                         f"/admin/v1/tenants/{self.id}/encryption/check",
                         token=self.t["admin_token"], session=self.session)

    def wait_state(self, state, timeout=TRIAL_TIMEOUT_S, kid=None,
                   check_after=None):
        """Poll the status until state (and kid first, if given); ask for
        a check after check_after seconds. Returns the status."""
        t0 = time.monotonic()
        checked = False
        while True:
            st = self.status()
            if st["state"] == state and (
                    kid is None or st["keys"][0]["kid"] == kid):
                return st
            if st["state"] == "failed" and state != "failed":
                raise BenchError(f"tenant {self.name} failed: {st}")
            el = time.monotonic() - t0
            if el > timeout:
                raise BenchError(f"tenant {self.name} not {state} after "
                                 f"{timeout:.0f} s: {st}")
            if check_after is not None and el > check_after and \
                    not checked:
                self.check()
                checked = True
            time.sleep(STATUS_POLL_MS / 1000)

    def get(self):
        """GET the object: True (200), False (403
        CustomerKeyInaccessible); anything else fails the bench."""
        r = self.session.get(self.get_url, verify=self.store.ca, timeout=30)
        if r.status_code == 200:
            return True
        if r.status_code == 403 and \
                b"<Code>CustomerKeyInaccessible</Code>" in r.content:
            return False
        raise BenchError(f"tenant {self.name} GET: {r.status_code} "
                         f"{r.text[:300]}")


def summary(xs):
    return statistics.median(xs), max(xs)


def verdict(value, target):
    return "ok" if value <= target else "ABOVE target"


# ---- 1 and 2 -------------------------------------------------------

def wait_for(done, poll_s, failure):
    """Seconds until done() is true, polled every poll_s; BenchError
    (failure, a message) once TRIAL_TIMEOUT_S has passed."""
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > TRIAL_TIMEOUT_S:
            raise BenchError(failure)
        time.sleep(poll_s)
    return time.monotonic() - t0


def record(tenant, secs, w0, polling, results, slow):
    """One trial's figure, kept aside too when above its target."""
    results.append(secs)
    if secs > (TARGET_POLLING_S if polling else TARGET_EVENTS_S):
        slow.append((tenant, w0, time.time(), secs))


def revocation_trials(tenant, kind, trials, polling, results, slow, stop):
    """kind "role" or "disable". Appends seconds to results."""
    vault = tenant.vault
    for _ in range(trials):
        if stop.is_set():
            return
        # restore, then wait for active and a good GET
        if kind == "role":
            vault.assign(tenant.key)
        else:
            vault.set_enabled(tenant.key, True)
        if polling:
            tenant.check()  # only to save the wait between trials
        tenant.wait_state("active", check_after=None if polling else 3.0)
        wait_for(tenant.get, STATUS_POLL_MS / 1000,
                 f"tenant {tenant.name}: GETs still refused after the "
                 f"restore")
        # the tenant is in use meanwhile (a GET every 50 ms): its lease
        # ends and is renewed as under steady traffic, so the denial
        # falls at a random point of a lease
        until = time.monotonic() + (random.uniform(0, LEASE_S) if polling
                                    else random.uniform(0.05, 0.25))
        while time.monotonic() < until:
            if not tenant.get():
                raise BenchError(f"tenant {tenant.name}: a GET was "
                                 f"refused with access restored")
            time.sleep(0.05)
        if kind == "role":
            vault.unassign(tenant.key)
        else:
            vault.set_enabled(tenant.key, False)
        w0 = time.time()
        secs = wait_for(lambda: not tenant.get(), POLL_MS / 1000,
                        f"tenant {tenant.name}: GETs still served "
                        f"{TRIAL_TIMEOUT_S:.0f} s after the denial "
                        f"({kind})")
        record(tenant, secs, w0, polling, results, slow)
    # leave the tenant accessible
    if kind == "role":
        vault.assign(tenant.key)
    else:
        vault.set_enabled(tenant.key, True)


def pickup_trials(tenant, trials, polling, results, rotate_times, slow,
                  stop):
    for _ in range(trials):
        if stop.is_set():
            return
        # by polling, the rotation falls anywhere between two checks
        # (else the trials' own rhythm would pick the phase)
        time.sleep(random.uniform(0, LEASE_S) if polling else
                   random.uniform(0.05, 0.25))
        t_sent = time.monotonic()
        version = tenant.vault.rotate(tenant.key)
        rotate_times.append(time.monotonic() - t_sent)
        w0 = time.time()

        def in_use():
            st = tenant.status()
            if st["state"] != "active":
                raise BenchError(f"tenant {tenant.name} {st['state']} "
                                 f"after a rotation: {st}")
            return st["keys"][0]["version_in_use"] == version

        secs = wait_for(in_use, STATUS_POLL_MS / 1000,
                        f"tenant {tenant.name}: version {version} not in "
                        f"use after {TRIAL_TIMEOUT_S:.0f} s")
        record(tenant, secs, w0, polling, results, slow)


def run_parallel(jobs):
    """Run (fn, args) jobs on threads; re-raise the first failure."""
    stop = threading.Event()
    errors = []

    def wrap(fn, args):
        try:
            fn(*args, stop)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
            stop.set()

    threads = [threading.Thread(target=wrap, args=j, daemon=True)
               for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def explain_slow(vault, slow):
    """For each trial above its target: the store's calls on the key in
    the vault's audit log from 6 s before the trial's start to its end,
    relative to the start (what the store did, and how long the vault
    took to record it)."""
    if not slow:
        return
    recs = vault.audit_since(0)
    for tenant, w0, w1, took in slow:
        calls = [f"{(r['ts'] / 1000 - w0):+.2f} {r['op']} {r['result']}"
                 for r in recs
                 if r["principal"] == "custos-store" and
                 r["key"] == tenant.key and
                 w0 - 6 <= r["ts"] / 1000 <= w1 + 0.5]
        print(f"    slow trial {took:.3f} s: the store's calls on "
              f"{tenant.key} (s from the start): "
              f"{', '.join(calls[-12:]) or 'none'}")


def print_case(label, xs, target, note=""):
    med, mx = summary(xs)
    p90 = sorted(xs)[max(0, -(-len(xs) * 9 // 10) - 1)]
    over = sum(1 for x in xs if x > target)
    print(f"  {label}: median {med:.3f} s, p90 {p90:.3f} s, max {mx:.3f} s "
          f"over {len(xs)} trials  target <= {target:.0f} s  "
          f"{verdict(mx, target)}"
          f"{f' ({over} above)' if over else ''}{note}")
    return med, mx


def bench_propagation(vault, stores, out):
    print(f"1+2. revocation propagation and version pick-up (lease "
          f"{LEASE_S} s, checks every {LEASE_S} s, GET every {POLL_MS} ms "
          f"until the first 403 CustomerKeyInaccessible)")
    for mode, store in stores:
        polling = mode == "polling"
        trials = POLL_TRIALS if polling else TRIALS
        target = TARGET_POLLING_S if polling else TARGET_EVENTS_S
        ten = {k: Tenant(store, vault, f"{mode}-{k}")
               for k in ("role", "disable", "pickup")}
        res = {"role": [], "disable": [], "pickup": []}
        slow = {"role": [], "disable": [], "pickup": []}
        rot = []
        t0 = time.monotonic()
        m0 = machine_busy()
        jobs = [(revocation_trials, (ten["role"], "role", trials, polling,
                                     res["role"], slow["role"])),
                (revocation_trials, (ten["disable"], "disable", trials,
                                     polling, res["disable"],
                                     slow["disable"])),
                (pickup_trials, (ten["pickup"], trials, polling,
                                 res["pickup"], rot, slow["pickup"]))]
        if polling:
            run_parallel(jobs)
            how = "the three on three tenants at once"
        else:
            for j in jobs:
                run_parallel([j])
            how = "one after the other"
        took = time.monotonic() - t0
        busy = (machine_busy() - m0) / (cores() * took)
        print(f" {mode} store ("
              f"{'--vault-events no' if polling else 'event stream'}; "
              f"{how}, {took:.0f} s; the machine was {busy:.0%} busy, "
              f"this bench's light load included):")
        note = ("" if trials >= 20 else
                f" (fewer trials than 20: CUSTOS_BENCH_CMK_"
                f"{'POLL_' if polling else ''}TRIALS={trials})")
        for k, label in (("role", "revocation, role assignment removed"),
                         ("disable", "revocation, key disabled")):
            out[(mode, k)] = print_case(label, res[k], target, note)
            explain_slow(vault, slow[k])
        out[(mode, "pickup")] = print_case(
            "new version in use (from the rotate's response)",
            res["pickup"], target, note)
        explain_slow(vault, slow["pickup"])
        print(f"    (the rotate itself, RSA-2048 key generation in the "
              f"vault: median {statistics.median(rot):.3f} s)")


# ---- 3 -------------------------------------------------------------

def loadgen_run(loadgen, ca, method, urls_file, size, conns, seconds,
                warmup=0.0):
    args = [loadgen, "--method", method, "--urls", urls_file, "--cacert",
            ca, "--conns", str(conns), "--size", str(size), "--seconds",
            str(seconds), "--warmup", str(warmup)]
    p = subprocess.run(args, capture_output=True, text=True,
                       timeout=(seconds + warmup + 300) if seconds else 1800)
    if p.returncode != 0:
        raise BenchError(f"loadgen failed ({p.returncode}): "
                         f"{p.stderr.strip()} {p.stdout.strip()}")
    got = {}
    for field in p.stdout.split():
        k, _, v = field.partition("=")
        got[k] = v
    if int(got.get("errors", "0")):
        raise BenchError(f"loadgen: {got['errors']} requests failed "
                         f"({got.get('first_error', '')}): {p.stdout}")
    return got


def fill(tenant, loadgen, tmp, total):
    """PUT total bytes as OBJ_SIZE objects; returns their keys."""
    n = max(1, -(-total // OBJ_SIZE))
    keys = [f"d/{i:05d}" for i in range(n)]
    path = os.path.join(tmp, f"{tenant.name}-put.urls")
    with open(path, "w") as f:
        f.write("\n".join(tenant.presign("put_object", k)
                          for k in keys) + "\n")
    t0 = time.monotonic()
    loadgen_run(loadgen, tenant.store.ca, "PUT", path, OBJ_SIZE, 2, 0)
    return keys, n * OBJ_SIZE, time.monotonic() - t0


def swap_once(tenant, to_key):
    t0 = time.monotonic()
    tenant.enable(to_key)
    tenant.wait_state("active", kid=tenant.kid(to_key))
    return time.monotonic() - t0


def bench_swap(vault, store, loadgen, tmp, out):
    if BIG_GIB <= 0:
        print("3. root swap: skipped (CUSTOS_BENCH_CMK_BIG_GIB=0)")
        return
    free = shutil.disk_usage(tmp).free
    need = max(DISK_NEEDED, int(BIG_GIB * GIB) + 2 * GIB)
    if free < need:
        print(f"3. root swap: SKIPPED: {free / GIB:.1f} GiB free in {tmp}, "
              f"needs {need / GIB:.0f} GiB")
        return
    if not os.access(loadgen, os.X_OK):
        raise BenchError(f"{loadgen} is not built (make "
                         f"BUILD/bench/loadgen_http)")
    vault.create_key("swap-a")
    vault.assign("swap-a")
    vault.create_key("swap-b")
    vault.assign("swap-b")
    big = int(BIG_GIB * GIB)
    sizes = [("100 MiB", SMALL_MIB * MIB), (f"{BIG_GIB:g} GiB", big)]
    tens = []
    for label, size in sizes:
        t = Tenant(store, vault, "swap-" + label.replace(" ", "").lower(),
                   key="swap-a")
        keys, stored, took = fill(t, loadgen, tmp, size)
        tens.append((label, t, keys, stored))
        print(f"  (filled {label}: {len(keys)} objects of "
              f"{OBJ_SIZE // MIB} MiB, {stored / MIB:.0f} MiB in "
              f"{took:.1f} s)")
    times = {label: [] for label, _, _, _ in tens}
    cur = {label: "swap-a" for label, _, _, _ in tens}
    for trial in range(SWAP_TRIALS):
        # alternate which tenant goes first: neither gets the quieter
        # moment after the other's swap every time
        for label, t, _, _ in (tens if trial % 2 == 0 else tens[::-1]):
            to = "swap-b" if cur[label] == "swap-a" else "swap-a"
            times[label].append(swap_once(t, to))
            cur[label] = to
            if not t.get():
                raise BenchError(f"tenant {t.name} refused after a swap")
    print(f"3. root swap (PUT .../encryption to the other key -> active "
          f"on it; {SWAP_TRIALS} trials each, alternating A->B, B->A, "
          f"the two tenants interleaved, each followed by a GET):")
    meds = []
    for label, t, _, stored in tens:
        xs = times[label]
        med, mx = summary(xs)
        meds.append(med)
        print(f"  {label} tenant ({stored / MIB:.0f} MiB): median "
              f"{med:.3f} s, max {mx:.3f} s  "
              f"({', '.join(f'{x:.3f}' for x in xs)})")
    ratio = meds[1] / meds[0] if meds[0] > 0 else float("inf")
    diff = meds[1] - meds[0]
    # a swap takes tens of milliseconds: a few ms of noise moves the
    # ratio a lot, so a difference under 50 ms counts as "about 1" too
    ok = ratio <= 1.5 or diff < 0.05
    print(f"  ratio {sizes[1][0]} / 100 MiB: {ratio:.2f} (difference "
          f"{diff * 1000:+.0f} ms)  target about 1  "
          f"{'ok' if ok else 'ABOVE target'}")
    print(f"  (for scale: re-encrypting the data would take about "
          f"{tens[1][3] / MIB / 300:.0f} s for the big tenant at 300 MiB/s)")
    out["swap"] = (meds[0], meds[1], ratio)
    # delete the data
    for label, t, keys, _ in tens:
        for i in range(0, len(keys), 1000):
            r = t.s3.delete_objects(Bucket="bkt", Delete={
                "Objects": [{"Key": k} for k in keys[i:i + 1000]]})
            if r.get("Errors"):
                raise BenchError(f"delete: {r['Errors'][:3]}")
    left = 0
    for root, _, files in os.walk(os.path.join(store.data, "objects")):
        for f in files:
            try:
                left += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    print(f"  (data deleted; {left / MIB:.1f} MiB of object files left in "
          f"the store)")


# ---- 4 -------------------------------------------------------------

def bench_steady(vault, store, loadgen, tmp, out):
    if not os.access(loadgen, os.X_OK):
        raise BenchError(f"{loadgen} is not built")
    tens = [Tenant(store, vault, f"steady{i:02d}") for i in range(N_TENANTS)]
    path = os.path.join(tmp, "steady.urls")
    with open(path, "w") as f:
        # interleaved: each tenant's URLs spread over the round robin
        for _ in range(4):
            for t in tens:
                f.write(t.get_url + "\n")
    names = {t.key for t in tens}
    since = vault.audit_last()
    m0 = machine_busy()
    w0 = time.time() + STEADY_WARMUP_S
    got = loadgen_run(loadgen, store.ca, "GET", path, 4096, STEADY_CONNS,
                      STEADY_S, STEADY_WARMUP_S)
    w1 = w0 + float(got["seconds"])
    busy = (machine_busy() - m0) / (cores() * (STEADY_S + STEADY_WARMUP_S))
    recs = [r for r in vault.audit_since(since)
            if r["principal"] == "custos-store" and r["key"] in names and
            w0 * 1000 <= r["ts"] <= w1 * 1000]
    ops = {}
    for r in recs:
        ops[r["op"]] = ops.get(r["op"], 0) + 1
    bad = [r for r in recs if r["result"] != "ok"]
    if bad:
        raise BenchError(f"vault refused the store: {bad[:3]}")
    window = w1 - w0
    unwraps = ops.get("unwrapkey", 0)
    per_tenant = {}
    for r in recs:
        if r["op"] == "unwrapkey":
            per_tenant[r["key"]] = per_tenant.get(r["key"], 0) + 1
    rate = unwraps / window
    expected = N_TENANTS / LEASE_S
    gets = int(got["ops"]) / window
    print(f"4. steady-state unwraps: {N_TENANTS} tenants, lease {LEASE_S} s, "
          f"loadgen GET 4 KiB x{STEADY_CONNS} conns for {window:.1f} s: "
          f"{gets:.0f} GETs/s")
    print(f"  unwrapkey calls to the vault: {unwraps} = {rate:.2f}/s  "
          f"expected ~{expected:.2f}/s (N / lease)  ratio "
          f"{rate / expected:.2f}  "
          f"{'ok' if rate <= expected * 1.25 else 'ABOVE expected'}")
    lo, hi = (min(per_tenant.values()), max(per_tenant.values())) \
        if per_tenant else (0, 0)
    other = ", ".join(f"{k} {v}" for k, v in sorted(ops.items())
                      if k != "unwrapkey") or "none"
    print(f"  per tenant {lo}-{hi} in {window:.1f} s (one per lease: "
          f"{window / LEASE_S:.1f}); the store's other calls: {other} "
          f"(key checks); other processes and the load took "
          f"{busy:.0%} of the machine")
    out["steady"] = (rate, expected)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    custos = os.path.abspath(sys.argv[1])
    # a SIGTERM (a timeout, make's) unwinds through the finally below, so
    # that the servers (each in its own session) do not outlive the bench
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))
    loadgen = os.path.join(os.path.dirname(custos), "bench", "loadgen_http")
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="custos-bench-cmk-",
                           dir=os.environ.get("CUSTOS_BENCH_DIR"))
    procs = []
    out = {}
    failed = 0
    print(f"cmk bench: a tenant vault and two stores on loopback "
          f"(lease {LEASE_S} s; events and --vault-events no), {cores()} "
          f"cores shared with everything else on the machine; "
          f"{TRIALS} trials per case ({POLL_TRIALS} polling), swap "
          f"100 MiB vs {BIG_GIB:g} GiB, {N_TENANTS} tenants x "
          f"{STEADY_S:g} s steady")
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run([custos, "pki", "init", "--dir", pki], check=True,
                       stdout=subprocess.DEVNULL)
        fp = subprocess.run([custos, "pki", "issue-client", "--dir", pki,
                             "--name", "custos-store"], check=True,
                            capture_output=True, text=True).stdout.strip()
        vault = Vault(custos, tmp, pki)
        procs.append(vault.proc)
        vault.call("PUT", "/admin/v1/principals/custos-store",
                   {"auth": "certificate", "certificate_sha256": fp})
        events = Store(custos, tmp, pki, "events")
        procs.append(events.proc)
        polling = Store(custos, tmp, pki, "polling", "--vault-events", "no")
        procs.append(polling.proc)
        time.sleep(1.0)  # the events store's subscriber is following
        bench_propagation(vault, [("events", events),
                                  ("polling", polling)], out)
        bench_swap(vault, events, loadgen, tmp, out)
        bench_steady(vault, events, loadgen, tmp, out)
        print("summary:")
        for mode, target in (("events", TARGET_EVENTS_S),
                             ("polling", TARGET_POLLING_S)):
            parts = []
            for k, label in (("role", "revoke by role"),
                             ("disable", "revoke by disable"),
                             ("pickup", "pick-up")):
                if (mode, k) in out:
                    med, mx = out[(mode, k)]
                    parts.append(f"{label} {med:.2f}/{mx:.2f} s")
            print(f"  {mode}: {', '.join(parts)} (median/max; target "
                  f"<= {target:.0f} s)")
        if "swap" in out:
            a, b, ratio = out["swap"]
            print(f"  root swap: 100 MiB {a:.3f} s, {BIG_GIB:g} GiB "
                  f"{b:.3f} s, ratio {ratio:.2f} (target about 1)")
        if "steady" in out:
            rate, exp = out["steady"]
            print(f"  steady unwraps {rate:.2f}/s, expected ~{exp:.2f}/s")
        print(f"  {time.monotonic() - t_start:.0f} s in all")
    except (BenchError, OSError, subprocess.SubprocessError,
            requests.RequestException, KeyError, ValueError) as e:
        print(f"cmk bench: FAIL: {e}")
        failed += 1
    except Exception as e:  # boto3/botocore errors
        print(f"cmk bench: FAIL: {type(e).__name__}: {e}")
        failed += 1
    finally:
        for p in reversed(procs):
            rc = p.stop()
            if rc != 0:
                print(f"cmk bench: FAIL: {p.name} exited {rc}: "
                      f"{p.log_tail(600)}")
                failed += 1
        if os.environ.get("CUSTOS_BENCH_CMK_KEEP"):
            print(f"cmk bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
