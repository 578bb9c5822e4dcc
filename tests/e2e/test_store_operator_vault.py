"""The system key (SK) and the availability key (AvK) in the operator's
vault: `custos store serve --system-key KID --availability-key KID`, the
store a principal of that vault by its client certificate."""
import hashlib
import os
import time

import botocore.exceptions
import requests

from conftest import (CSEU, free_port, register_store_principal, run_cli,
                      start_store, start_vault_with_data)

SK = "system-key"
AVK = "availability-key"


def object_files(data, tenant):
    """{path: (inode, mtime_ns, sha256)} of every data file of tenant."""
    out = {}
    for root, _, files in os.walk(os.path.join(data, "objects",
                                               tenant["id"])):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                out[p] = (st.st_ino, st.st_mtime_ns,
                          hashlib.sha256(fh.read()).hexdigest())
    return out


class OpVault:
    """The operator's vault with the store's two keys, and the store's
    client certificate registered in it."""

    def __init__(self, spawn, pki, workdir, port=None, grant=True):
        self.spawn, self.pki = spawn, pki
        self.data = os.path.join(workdir, "opvault-data")
        self.port = port or free_port()
        self.vault = self.start()
        self.cert, self.key, self.fp = register_store_principal(self.vault,
                                                                pki)
        self.vault.key_client().create_rsa_key(SK, size=3072)
        r = self.vault.request("POST", f"/keys/{AVK}/create?api-version=7.4",
                               json={"kty": "oct", "key_size": 256})
        assert r.status_code == 200, r.text
        if grant:
            self.grant(SK)
            self.grant(AVK)

    def start(self):
        from conftest import Vault
        url = f"https://localhost:{self.port}"
        p = self.spawn("vault", "serve", "--listen",
                       f"127.0.0.1:{self.port}", "--tls-cert", self.pki.cert,
                       "--tls-key", self.pki.key, "--client-ca", self.pki.ca,
                       "--data", self.data, "--purge-protection",
                       name="opvault")
        p.wait_for(lambda: requests.get(url + "/healthz", verify=self.pki.ca,
                                        timeout=2).status_code == 200,
                   what="answering /healthz")
        self.vault = Vault(p, url, self.data, self.pki)
        return self.vault

    def kid(self, name):
        return f"{self.vault.url}/keys/{name}"

    def grant(self, name):
        self.vault.assign(f"store-{name}", "custos-store", CSEU,
                          f"/keys/{name}")

    def store_args(self, sk=True, avk=True):
        args = ["--client-cert", self.cert, "--client-key", self.key,
                "--vault-ca", self.pki.ca]
        if sk:
            args += ["--system-key", self.kid(SK)]
        if avk:
            args += ["--availability-key", self.kid(AVK)]
        return args

    def audit(self, op=None, key=None):
        r = self.vault.request("GET", "/admin/v1/audit")
        assert r.status_code == 200, r.text
        return [a for a in r.json()["value"]
                if a["principal"] == "custos-store" and
                (op is None or a["op"] == op) and
                (key is None or a["key"] == key)]


def get_code(s3, key="o0", want=None):
    try:
        body = s3.get_object(Bucket="bkt", Key=key)["Body"].read()
        assert want is None or body == want
        return "OK"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def fill(s3, n=3):
    s3.create_bucket(Bucket="bkt")
    data = {}
    for i in range(n):
        data[f"o{i}"] = os.urandom(70_000 + i)
        s3.put_object(Bucket="bkt", Key=f"o{i}", Body=data[f"o{i}"])
    return data


def serving_one_object(spawn, pki, workdir, lease):
    """An operator vault holding the system key, a store using it with
    this lease, and one object of tenant acme read back."""
    op = OpVault(spawn, pki, workdir)
    store = start_store(spawn, pki, os.path.join(workdir, "store-data"),
                        "--lease-seconds", str(lease), *op.store_args())
    s3 = store.s3(store.tenant("acme"))
    data = fill(s3, n=1)
    assert get_code(s3, "o0", data["o0"]) == "OK"
    return op, store, s3, data


def test_store_with_a_vault_system_key_serves_objects_and_the_vault_audits_it(
        spawn, dev_pki, workdir):
    op = OpVault(spawn, dev_pki, workdir)
    data_dir = os.path.join(workdir, "store-data")
    store = start_store(spawn, dev_pki, data_dir, "--lease-seconds", "2",
                        *op.store_args())
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3)
    for k, v in data.items():
        assert get_code(s3, k, v) == "OK"
    # no key file: the system key and the availability key are in the vault
    assert not os.path.exists(os.path.join(data_dir, "system.key"))
    assert not os.path.exists(os.path.join(data_dir, "availability.key"))
    before = len(op.audit("unwrapkey", SK))
    time.sleep(2.5)  # past the lease: the tenant key is unwrapped again
    for k, v in data.items():
        assert get_code(s3, k, v) == "OK"
    unwraps = op.audit("unwrapkey", SK)
    assert len(unwraps) > before, unwraps
    assert all(a["result"] == "ok" for a in unwraps)
    assert op.audit("wrapkey", SK)  # the tenant's key was wrapped there
    # validation at start made a round trip with each key
    assert op.audit("unwrapkey", AVK)


def test_role_removed_on_the_operator_vault_fails_gets_after_the_lease(
        spawn, dev_pki, workdir):
    op, store, s3, data = serving_one_object(spawn, dev_pki, workdir, 2)
    t0 = time.time()
    op.vault.unassign(f"store-{SK}")
    # the lease runs on (it is the revocation bound without events) ...
    while time.time() - t0 < 1.0:
        assert get_code(s3, "o0", data["o0"]) in ("OK",
                                                  "SystemKeyUnavailable")
        time.sleep(0.2)
    # ... then the tenant's data is refused with a clear error
    deadline = time.time() + 10
    while time.time() < deadline and get_code(s3) == "OK":
        time.sleep(0.2)
    try:
        s3.get_object(Bucket="bkt", Key="o0")
        raise AssertionError("GET served after the role was removed")
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == "SystemKeyUnavailable", err
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "system key" in err["Message"]
    # writes too; lists still work (names are metadata)
    try:
        s3.put_object(Bucket="bkt", Key="new", Body=b"x")
        raise AssertionError("PUT accepted without the system key")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "SystemKeyUnavailable"
    assert [o["Key"] for o in
            s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["o0"]
    assert store.proc.alive()
    # the denial is a security event in the store's log
    log = store.proc.log()
    assert "operator_key_denied" in log
    assert "security:" in log
    # the vault's audit shows the refused unwrap
    assert any(a["result"] != "ok" for a in op.audit("unwrapkey", SK))
    # access restored: the same data again, without a restart
    op.grant(SK)
    deadline = time.time() + 10
    while time.time() < deadline and get_code(s3) != "OK":
        time.sleep(0.2)
    assert get_code(s3, "o0", data["o0"]) == "OK"
    s3.put_object(Bucket="bkt", Key="new", Body=b"x")
    assert get_code(s3, "new", b"x") == "OK"


def test_operator_vault_outage_serves_the_lease_then_503_then_recovers(
        spawn, dev_pki, workdir):
    op, store, s3, data = serving_one_object(spawn, dev_pki, workdir, 5)
    t0 = time.time()
    op.vault.proc.stop()
    while time.time() - t0 < 1.5:  # well within the lease
        assert get_code(s3, "o0", data["o0"]) == "OK"
        time.sleep(0.2)
    deadline = time.time() + 15
    while time.time() < deadline and get_code(s3) == "OK":
        time.sleep(0.2)
    try:
        s3.get_object(Bucket="bkt", Key="o0")
        raise AssertionError("GET served without the system key")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "SystemKeyUnavailable"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "does not answer" in e.response["Error"]["Message"]
    assert store.proc.alive()
    assert "operator_vault_unreachable" in store.proc.log()
    # an outage is not a denial
    assert "operator_key_denied" not in store.proc.log()
    op.start()  # same address, same data
    deadline = time.time() + 10
    while time.time() < deadline and get_code(s3) != "OK":
        time.sleep(0.2)
    assert get_code(s3, "o0", data["o0"]) == "OK"


def serve_args(pki, data):
    return ["store", "serve", "--listen", f"127.0.0.1:{free_port()}",
            "--tls-cert", pki.cert, "--tls-key", pki.key, "--data", data]


def test_start_up_refuses_a_system_key_it_may_not_use(spawn, dev_pki,
                                                      workdir):
    op = OpVault(spawn, dev_pki, workdir, grant=False)
    data = os.path.join(workdir, "store-data")
    # no role: the message names the role to grant and where
    r = run_cli(*serve_args(dev_pki, data), *op.store_args(avk=False),
                check=False)
    assert r.returncode == 1, r.stderr
    assert "the system key is not usable" in r.stderr
    assert "PermissionDenied" in r.stderr
    assert f"{CSEU} on /keys/{SK}" in r.stderr
    # no such key
    op.grant(SK)
    r = run_cli(*serve_args(dev_pki, data), "--client-cert", op.cert,
                "--client-key", op.key, "--vault-ca", dev_pki.ca,
                "--system-key", op.kid("no-such-key"), check=False)
    assert r.returncode == 1
    # (without a role on it the vault does not say whether it exists)
    assert "no-such-key" in r.stderr
    assert "the system key is not usable" in r.stderr
    # a disabled key
    op.vault.key_client().update_key_properties(SK, enabled=False)
    r = run_cli(*serve_args(dev_pki, data), *op.store_args(avk=False),
                check=False)
    assert r.returncode == 1
    assert "KeyDisabled" in r.stderr
    op.vault.key_client().update_key_properties(SK, enabled=True)
    # the availability key is checked the same way
    r = run_cli(*serve_args(dev_pki, data), *op.store_args(), check=False)
    assert r.returncode == 1
    assert "the availability key is not usable" in r.stderr
    assert f"/keys/{AVK}" in r.stderr
    # a vault that does not answer
    r = run_cli(*serve_args(dev_pki, data), "--client-cert", op.cert,
                "--client-key", op.key, "--vault-ca", dev_pki.ca,
                "--system-key",
                f"https://localhost:{free_port()}/keys/{SK}", check=False)
    assert r.returncode == 1
    assert "VaultUnreachable" in r.stderr
    # without the store's identity
    r = run_cli(*serve_args(dev_pki, data), "--system-key", op.kid(SK),
                check=False)
    assert r.returncode == 2
    assert "--client-cert" in r.stderr
    # nothing of the vault mode created a key file
    assert not os.path.exists(os.path.join(data, "system.key"))


def test_key_file_store_switched_to_the_vault_rewraps_tenant_keys_only(
        spawn, dev_pki, workdir):
    op = OpVault(spawn, dev_pki, workdir)
    data_dir = os.path.join(workdir, "store-data")
    # key-file mode, as before (no --system-key)
    store = start_store(spawn, dev_pki, data_dir, "--client-cert", op.cert,
                        "--client-key", op.key, "--vault-ca", dev_pki.ca)
    assert os.path.exists(os.path.join(data_dir, "system.key"))
    tenants = []
    for name in ("acme", "globex"):
        t = store.tenant(name)
        tenants.append((t, fill(store.s3(t))))
    r = store.admin("POST", f"/admin/v1/tenants/{tenants[0][0]['id']}"
                    "/encryption/roll", token=tenants[0][0]["admin_token"])
    assert r.status_code == 200, r.text  # a second TK version
    files = {t["id"]: object_files(data_dir, t) for t, _ in tenants}
    assert all(files.values())
    store.proc.stop()
    assert not op.audit("unwrapkey", SK)

    # the same data directory with the system key in the vault
    store = start_store(spawn, dev_pki, data_dir, *op.store_args())
    log = store.proc.log()
    assert "re-wrapped the tenant keys" in log
    assert '"wraps":3' in log  # acme v1, v2; globex v1
    for t, data in tenants:
        s3 = store.s3(t)
        for k, v in data.items():
            assert get_code(s3, k, v) == "OK"
        # not one object file was rewritten
        assert object_files(data_dir, t) == files[t["id"]]
    store.proc.stop()
    # the key file is no longer needed: every TK is under the vault key
    os.rename(os.path.join(data_dir, "system.key"),
              os.path.join(workdir, "system.key.old"))
    store = start_store(spawn, dev_pki, data_dir, *op.store_args())
    assert "re-wrapped" not in store.proc.log()
    for t, data in tenants:
        s3 = store.s3(t)
        for k, v in data.items():
            assert get_code(s3, k, v) == "OK"
    store.proc.stop()

    # back to a key file: without the vault key the store refuses ...
    op.vault.unassign(f"store-{SK}")
    r = run_cli(*serve_args(dev_pki, data_dir), "--client-cert", op.cert,
                "--client-key", op.key, "--vault-ca", dev_pki.ca,
                "--availability-key", op.kid(AVK), check=False)
    assert r.returncode == 1
    assert f"wrapped under the system key {op.kid(SK)}" in r.stderr
    assert f"--system-key {op.kid(SK)}" in r.stderr
    # ... and with it, re-wraps them under the (new) key file
    op.grant(SK)
    os.unlink(os.path.join(data_dir, "system.key"))
    store = start_store(spawn, dev_pki, data_dir, "--client-cert", op.cert,
                        "--client-key", op.key, "--vault-ca", dev_pki.ca,
                        "--availability-key", op.kid(AVK))
    assert "re-wrapped the tenant keys" in store.proc.log()
    op.vault.unassign(f"store-{SK}")
    for t, data in tenants:
        s3 = store.s3(t)
        for k, v in data.items():
            assert get_code(s3, k, v) == "OK"
        assert object_files(data_dir, t) == files[t["id"]]


def test_the_system_key_survives_the_vault_moving_to_another_port(
        spawn, dev_pki, workdir):
    op = OpVault(spawn, dev_pki, workdir)
    data_dir = os.path.join(workdir, "store-data")
    store = start_store(spawn, dev_pki, data_dir, *op.store_args())
    t = store.tenant("acme")
    data = fill(store.s3(t), n=1)
    store.proc.stop()
    op.vault.proc.stop()
    op.port = free_port()
    op.start()
    store = start_store(spawn, dev_pki, data_dir, *op.store_args())
    assert "re-wrapped" not in store.proc.log()
    assert "recorded at a new identifier" in store.proc.log()
    assert get_code(store.s3(t), "o0", data["o0"]) == "OK"


def test_a_customer_managed_tenant_falls_back_to_the_vault_availability_key(
        spawn, dev_pki, workdir):
    op = OpVault(spawn, dev_pki, workdir)
    # the tenant's own vault, the store registered there too
    tv = start_vault_with_data(spawn, dev_pki,
                               os.path.join(workdir, "tenant-vault"),
                               "--retention-days", "7", "--purge-protection")
    register_store_principal(tv, dev_pki, op.fp)
    store = start_store(spawn, dev_pki, os.path.join(workdir, "store-data"),
                        "--lease-seconds", "2", "--cmk-check-seconds", "1",
                        "--outage-grace-seconds", "1", *op.store_args())
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=1)
    tv.key_client().create_rsa_key("ck", size=2048)
    tv.assign("store-ck", "custos-store", CSEU, "/keys/ck")
    r = store.admin("PUT", f"/admin/v1/tenants/{t['id']}/encryption",
                    token=t["admin_token"],
                    json={"mode": "customer_managed",
                          "keys": [{"kid": f"{tv.url}/keys/ck"}],
                          "availability_key": True})
    assert r.status_code == 202, r.text
    deadline = time.time() + 20
    while time.time() < deadline:
        st = store.admin("GET", f"/admin/v1/tenants/{t['id']}/encryption",
                         token=t["admin_token"]).json()
        if st["state"] in ("active", "failed"):
            break
        time.sleep(0.1)
    assert st["state"] == "active", st
    assert op.audit("wrapkey", AVK)  # the TK wrapped under the vault AvK
    before = len(op.audit("unwrapkey", AVK))
    tv.proc.stop()  # the tenant's vault goes away: the AvK serves
    t0 = time.time()
    while time.time() - t0 < 6:
        assert get_code(s3, "o0", data["o0"]) == "OK"
        time.sleep(0.5)
    assert len(op.audit("unwrapkey", AVK)) > before


def test_key_file_mode_keeps_working_without_an_operator_vault(
        spawn, dev_pki, workdir):
    data_dir = os.path.join(workdir, "store-data")
    store = start_store(spawn, dev_pki, data_dir, "--lease-seconds", "2")
    t = store.tenant("acme")
    data = fill(store.s3(t), n=2)
    time.sleep(2.5)
    for k, v in data.items():
        assert get_code(store.s3(t), k, v) == "OK"
    assert os.path.exists(os.path.join(data_dir, "system.key"))
    assert os.path.exists(os.path.join(data_dir, "availability.key"))
    assert "operator key" not in store.proc.log()
