"""Fixtures shared by the end-to-end tests.

The tests drive the real `custos` binary (CUSTOS_BIN, set by `make e2e`) as
separate processes on free loopback ports. A process that crashes, exits
non-zero on SIGTERM, or prints a sanitizer report fails the test that
started it, loudly.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

CUSTOS_BIN = os.environ.get("CUSTOS_BIN") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "custos"))
TESTVECTORS = os.environ.get("CUSTOS_TESTVECTORS") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                 "testvectors"))

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer",
                   "Invalid read", "Invalid write",
                   "uninitialised value", "definitely lost in")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, check=True, timeout=60, env=None, input=None):
    """Run `custos ARGS...` to completion; return the CompletedProcess."""
    p = subprocess.run([CUSTOS_BIN, *args], capture_output=True, text=True,
                       timeout=timeout, env=env, input=input)
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr
    if check and p.returncode != 0:
        raise AssertionError(
            f"custos {' '.join(args)} exited {p.returncode}\n"
            f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


class CustosProcess:
    """A long-running custos process (a server) under test."""

    def __init__(self, args, log_path, env=None):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "w+")
        # CUSTOS_WRAPPER runs servers under a tool, e.g. valgrind
        wrapper = os.environ.get("CUSTOS_WRAPPER", "").split()
        self.proc = subprocess.Popen([*wrapper, CUSTOS_BIN, *args],
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def log(self):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def wait_for(self, ready, timeout=30.0, what="ready"):
        """Poll `ready()` until it is true; fail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(
                    f"custos {' '.join(self.args)} exited "
                    f"{self.proc.returncode} before {what}:\n{self.log()}")
            try:
                if ready():
                    return
            except Exception:  # not up yet
                pass
            time.sleep(0.05)
        raise AssertionError(f"custos {' '.join(self.args)} not {what} "
                             f"after {timeout}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=30.0, expect_clean=True):
        """Stop the process; with expect_clean, it must exit 0 with no
        sanitizer report. Returns the exit status."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"custos {' '.join(self.args)} did not "
                                     f"stop on {sig!r}:\n{self.log()}")
        log = self.log()
        self._log.close()
        if expect_clean:
            for mark in SANITIZER_MARKS:
                assert mark not in log, log
            assert self.proc.returncode == 0, (
                f"custos {' '.join(self.args)} exited "
                f"{self.proc.returncode}:\n{log}")
        return self.proc.returncode

    def kill(self):
        """SIGKILL, as a crash would; no cleanliness check."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="custos-e2e-") as d:
        yield d


@pytest.fixture
def spawn(workdir):
    """spawn(args...) starts a custos process; all are stopped (cleanly, or
    the test fails) when the test ends."""
    procs = []

    def _spawn(*args, env=None, name=None):
        log = os.path.join(workdir, f"{name or args[0]}-{len(procs)}.log")
        p = CustosProcess(list(args), log, env=env)
        procs.append(p)
        return p

    yield _spawn
    errors = []
    for p in procs:
        if p._log.closed:
            continue
        try:
            p.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))


class DevPki:
    """Paths of a development PKI made by `custos pki init`."""

    def __init__(self, d):
        self.dir = d
        self.ca = os.path.join(d, "ca.pem")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server-key.pem")

    def client(self, name):
        """Issue (or re-issue) a client certificate for principal `name`;
        returns (cert_path, key_path, sha256_fingerprint)."""
        p = run_cli("pki", "issue-client", "--dir", self.dir, "--name", name)
        return (os.path.join(self.dir, f"client-{name}.pem"),
                os.path.join(self.dir, f"client-{name}-key.pem"),
                p.stdout.strip())


@pytest.fixture
def dev_pki(workdir):
    """A fresh CA and localhost server certificate in WORKDIR/pki."""
    d = os.path.join(workdir, "pki")
    run_cli("pki", "init", "--dir", d)
    return DevPki(d)


def start_vault(spawn, pki, *extra, client_ca=True):
    """Start `custos vault serve` on a free port over TLS; wait until
    /healthz answers; return (process, base_url)."""
    import requests  # only the tests that start servers need it

    port = free_port()
    args = ["vault", "serve", "--listen", f"127.0.0.1:{port}",
            "--tls-cert", pki.cert, "--tls-key", pki.key]
    if client_ca:
        args += ["--client-ca", pki.ca]
    p = spawn(*args, *extra, name="vault")
    url = f"https://localhost:{port}"
    p.wait_for(lambda: requests.get(url + "/healthz", verify=pki.ca,
                                    timeout=2).status_code == 200,
               what="answering /healthz")
    return p, url


# ---- vault fixtures (custos vault with the Azure Key Vault keys API) ----

class StaticTokenCredential:
    """An azure.core TokenCredential that hands out one fixed bearer token
    (a custos vault principal's token) for any scope."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken(self.token, int(time.time()) + 3600)


class Vault:
    """A running `custos vault serve` with its admin token."""

    def __init__(self, proc, url, data, pki):
        self.proc = proc
        self.url = url
        self.data = data
        self.pki = pki
        with open(os.path.join(data, "admin.token")) as f:
            self.admin_token = f.read().strip()

    def _sdk_kwargs(self):
        return dict(connection_verify=self.pki.ca,
                    verify_challenge_resource=False)

    def key_client(self, token=None):
        from azure.keyvault.keys import KeyClient
        return KeyClient(self.url,
                         StaticTokenCredential(token or self.admin_token),
                         **self._sdk_kwargs())

    def crypto_client(self, key, token=None):
        """key: a KeyVaultKey or a kid string."""
        from azure.keyvault.keys.crypto import CryptographyClient
        return CryptographyClient(
            key, StaticTokenCredential(token or self.admin_token),
            **self._sdk_kwargs())

    def remote_crypto_client(self, key, token=None):
        """A CryptographyClient that sends every operation to the vault.

        The SDK (azure-keyvault-keys 4.8) does public-key operations
        locally, and for an oct key whose JWK has no "k" (the vault never
        returns one) it even wraps and unwraps locally under a random key
        of its own. This client skips the local provider, as a service
        (custos store) calling the vault does."""
        from azure.keyvault.keys.crypto._providers import NoLocalCryptography
        cc = self.crypto_client(key, token)
        cc._local_provider = NoLocalCryptography()
        cc._initialized = True
        return cc

    def request(self, method, path, token=None, **kw):
        """A raw HTTPS request (requests.Response); token None = admin,
        "" = no Authorization header."""
        import requests
        headers = kw.pop("headers", {})
        tok = self.admin_token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return requests.request(method, self.url + path, headers=headers,
                                verify=self.pki.ca, timeout=30, **kw)

    def principal(self, name, role=None, scope="/"):
        """Create principal `name` with a token, optionally assign `role`
        at `scope` (assignment id = name); return its token."""
        r = self.request("PUT", f"/admin/v1/principals/{name}",
                         json={"auth": "token"})
        assert r.status_code == 200, r.text
        if role:
            self.assign(name, name, role, scope)
        return r.json()["token"]

    def assign(self, ra_id, principal, role, scope="/"):
        r = self.request("PUT", f"/admin/v1/role-assignments/{ra_id}",
                         json={"principal": principal, "role": role,
                               "scope": scope})
        assert r.status_code == 200, r.text

    def unassign(self, ra_id):
        r = self.request("DELETE", f"/admin/v1/role-assignments/{ra_id}")
        assert r.status_code == 204, r.text


def start_vault_with_data(spawn, pki, data, *extra):
    proc, url = start_vault(spawn, pki, "--data", data, *extra)
    return Vault(proc, url, data, pki)


@pytest.fixture
def vault(spawn, dev_pki, workdir):
    """A fresh vault (soft delete 90 days, no purge protection)."""
    return start_vault_with_data(spawn, dev_pki,
                                 os.path.join(workdir, "vault-data"))


@pytest.fixture
def protected_vault(spawn, dev_pki, workdir):
    """A fresh vault with purge protection and 7 days of retention."""
    return start_vault_with_data(spawn, dev_pki,
                                 os.path.join(workdir, "vault-data"),
                                 "--retention-days", "7",
                                 "--purge-protection")


# ---- store fixtures (custos store with the S3 API) ----

class Store:
    """A running `custos store serve`, with its operator token."""

    def __init__(self, proc, url, data, pki, token_file):
        self.proc = proc
        self.url = url
        self.data = data
        self.pki = pki
        with open(token_file) as f:
            self.operator_token = f.read().strip()

    def admin(self, method, path, token=None, **kw):
        """A request to the admin API (requests.Response); token None =
        the operator's, "" = none."""
        import requests
        headers = kw.pop("headers", {})
        tok = self.operator_token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return requests.request(method, self.url + path, headers=headers,
                                verify=self.pki.ca, timeout=30, **kw)

    def tenant(self, name):
        """Create tenant `name`; returns the admin API's JSON reply (id,
        access_key_id, secret_access_key, admin_token)."""
        r = self.admin("POST", "/admin/v1/tenants", json={"name": name})
        assert r.status_code == 201, r.text
        return r.json()

    def s3(self, tenant, **kw):
        """A boto3 S3 client (path-style, SigV4) for a tenant."""
        import boto3
        import botocore.config
        cfg = botocore.config.Config(s3={"addressing_style": "path"},
                                     signature_version="s3v4",
                                     retries={"max_attempts": 1}, **kw)
        return boto3.client("s3", endpoint_url=self.url,
                            verify=self.pki.ca, region_name="us-east-1",
                            aws_access_key_id=tenant["access_key_id"],
                            aws_secret_access_key=tenant["secret_access_key"],
                            config=cfg)

    def sign(self, tenant, method, path, body=b"", headers=None):
        """SigV4 headers (botocore's signer) for a request whose path and
        query go out exactly as given (already percent-encoded)."""
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        creds = botocore.credentials.Credentials(
            tenant["access_key_id"], tenant["secret_access_key"])
        req = botocore.awsrequest.AWSRequest(
            method=method, url=self.url + path, data=body,
            headers=dict(headers or {}))
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        return dict(req.headers)

    def signed(self, tenant, method, path, body=b"", headers=None):
        """A SigV4-signed S3 request (requests.Response) whose reply is
        read as sent, without botocore's parsing and decoding."""
        import requests
        return requests.request(
            method, self.url + path, data=body, verify=self.pki.ca,
            timeout=30,
            headers=self.sign(tenant, method, path, body, headers))

    def aws(self, tenant, *args, check=True):
        """Run Debian's aws CLI (/usr/bin/aws) against the store."""
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": tenant["access_key_id"],
                    "AWS_SECRET_ACCESS_KEY": tenant["secret_access_key"],
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
        p = subprocess.run(["/usr/bin/aws", "--endpoint-url", self.url,
                            "--ca-bundle", self.pki.ca, *args],
                           capture_output=True, text=True, env=env,
                           timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited "
                                 f"{p.returncode}\n{p.stdout}\n{p.stderr}")
        return p


def start_store(spawn, pki, data, *extra):
    """Start `custos store serve` on a free port over TLS with its data in
    DATA; wait until /healthz answers; return a Store."""
    import requests

    port = free_port()
    token_file = os.path.join(data + "-operator.token")
    p = spawn("store", "serve", "--listen", f"127.0.0.1:{port}",
              "--tls-cert", pki.cert, "--tls-key", pki.key, "--data", data,
              "--operator-token-file", token_file, *extra, name="store")
    url = f"https://localhost:{port}"
    p.wait_for(lambda: requests.get(url + "/healthz", verify=pki.ca,
                                    timeout=2).status_code == 200,
               what="answering /healthz")
    return Store(p, url, data, pki, token_file)


@pytest.fixture
def store(spawn, dev_pki, workdir):
    """A fresh store."""
    return start_store(spawn, dev_pki, os.path.join(workdir, "store-data"))


# ---- customer-managed keys: a tenant vault and a store that uses it ----

CSEU = "Key Vault Crypto Service Encryption User"


class CmkEnv:
    """A tenant vault (purge protection on) where the store is principal
    custos-store by its client certificate, and a store that trusts the
    vault's CA and presents that certificate."""

    def __init__(self, vault, store, pki, fp):
        self.vault = vault
        self.store = store
        self.pki = pki
        self.fp = fp  # the store's client certificate's SHA-256

    def kid(self, name, version=None, vault=None):
        base = f"{(vault or self.vault).url}/keys/{name}"
        return f"{base}/{version}" if version else base

    def rsa_key(self, name, grant=True, vault=None, size=2048):
        v = vault or self.vault
        k = v.key_client().create_rsa_key(name, size=size)
        if grant:
            v.assign(f"store-{name}", "custos-store", CSEU, f"/keys/{name}")
        return k

    def enable(self, tenant, kids, avk=False, token=None, expect=202):
        body = {"mode": "customer_managed",
                "keys": [{"kid": k} for k in kids],
                "availability_key": avk}
        r = self.store.admin("PUT",
                             f"/admin/v1/tenants/{tenant['id']}/encryption",
                             token=token or tenant["admin_token"], json=body)
        assert r.status_code == expect, r.text
        return r.json()

    def status(self, tenant):
        r = self.store.admin("GET",
                             f"/admin/v1/tenants/{tenant['id']}/encryption",
                             token=tenant["admin_token"])
        assert r.status_code == 200, r.text
        return r.json()

    def wait_state(self, tenant, *states, timeout=20.0):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.status(tenant)
            if st["state"] in states:
                return st
            time.sleep(0.1)
        raise AssertionError(f"state {st} never reached {states}")


def register_store_principal(vault, pki, fp=None):
    """Register the store (principal custos-store) in vault by its client
    certificate: issued here when fp is None, else the one with that
    fingerprint (re-issuing would change the certificate the running
    store presents). Returns (cert, key, fp)."""
    cert = os.path.join(pki.dir, "client-custos-store.pem")
    key = os.path.join(pki.dir, "client-custos-store-key.pem")
    if fp is None:
        cert, key, fp = pki.client("custos-store")
    r = vault.request("PUT", "/admin/v1/principals/custos-store",
                      json={"auth": "certificate",
                            "certificate_sha256": fp})
    assert r.status_code == 200, r.text
    return cert, key, fp


def start_cmk_store(spawn, pki, data, cert, key, *extra):
    return start_store(spawn, pki, data, "--client-cert", cert,
                       "--client-key", key, "--vault-ca", pki.ca, *extra)


def make_cmk_env(spawn, pki, workdir, *store_args):
    """A tenant vault (retention 7 days, purge protection), the store as
    its principal by certificate, the store started with store_args."""
    vault = start_vault_with_data(spawn, pki,
                                  os.path.join(workdir, "vault-data"),
                                  "--retention-days", "7",
                                  "--purge-protection")
    cert, key, fp = register_store_principal(vault, pki)
    store = start_cmk_store(spawn, pki, os.path.join(workdir, "store-data"),
                            cert, key, *store_args)
    return CmkEnv(vault, store, pki, fp)


@pytest.fixture
def cmk(spawn, dev_pki, workdir):
    """CmkEnv with a 2 s lease and 1 s key checks."""
    return make_cmk_env(spawn, dev_pki, workdir, "--lease-seconds", "2",
                        "--cmk-check-seconds", "1",
                        "--purge-grace-seconds", "2")
