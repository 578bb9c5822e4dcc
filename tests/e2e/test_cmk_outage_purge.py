"""Customer-managed keys: outage grace, the availability key, purge and
crypto-shredding, the revert policy, the CLI."""
import glob
import json
import os
import shutil
import time

import botocore.exceptions
import pytest
import requests

from conftest import (CmkEnv, register_store_principal, run_cli,
                      start_cmk_store, start_vault_with_data)


def cmk_env(spawn, pki, workdir, *extra):
    vault = start_vault_with_data(spawn, pki,
                                  os.path.join(workdir, "vault-data"),
                                  "--retention-days", "7",
                                  "--purge-protection")
    cert, key, fp = register_store_principal(vault, pki)
    store = start_cmk_store(spawn, pki, os.path.join(workdir, "store-data"),
                            cert, key, "--lease-seconds", "2",
                            "--cmk-check-seconds", "1", *extra)
    return CmkEnv(vault, store, pki, fp)


def active_tenant(cmk, avk=False, n=3):
    t = cmk.store.tenant("acme")
    s3 = cmk.store.s3(t)
    s3.create_bucket(Bucket="bkt")
    data = {}
    for i in range(n):
        data[f"o{i}"] = os.urandom(3000)
        s3.put_object(Bucket="bkt", Key=f"o{i}", Body=data[f"o{i}"])
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")], avk=avk)
    st = cmk.wait_state(t, "active", "failed")
    assert st["state"] == "active", st
    assert st["availability_key"] is avk
    return t, s3, data


def get_code(s3, key="o0"):
    try:
        s3.get_object(Bucket="bkt", Key=key)["Body"].read()
        return "OK"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def metric(cmk, name):
    m = requests.get(cmk.store.url + "/metrics", verify=cmk.pki.ca).text
    for line in m.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def events(cmk, t):
    return cmk.store.admin("GET", f"/admin/v1/tenants/{t['id']}/events",
                           token=t["admin_token"]).json()["events"]


def test_outage_is_served_within_grace_then_inaccessible(spawn, dev_pki,
                                                         workdir):
    cmk = cmk_env(spawn, dev_pki, workdir, "--outage-grace-seconds", "4")
    t, s3, data = active_tenant(cmk)
    assert get_code(s3) == "OK"
    t0 = time.time()
    cmk.vault.proc.stop()
    # within lease (2 s) + grace (4 s) of the last unwrap, data is served
    while time.time() - t0 < 3.5:
        assert get_code(s3) == "OK"
        time.sleep(0.3)
    # then, without an availability key, the tenant is inaccessible
    while time.time() - t0 < 15 and get_code(s3) == "OK":
        time.sleep(0.2)
    assert get_code(s3) == "CustomerKeyInaccessible"
    st = cmk.status(t)
    assert st["state"] == "inaccessible"
    assert st["reason"] == "VaultUnreachable"
    assert metric(cmk, "custos_store_cmk_availability_unwraps_total") == 0
    # the vault comes back (same address, same data): active by itself
    port = cmk.vault.url.rsplit(":", 1)[1]
    p = spawn("vault", "serve", "--listen", f"127.0.0.1:{port}",
              "--tls-cert", dev_pki.cert, "--tls-key", dev_pki.key,
              "--client-ca", dev_pki.ca, "--data", cmk.vault.data,
              "--retention-days", "7", "--purge-protection", name="vault2")
    p.wait_for(lambda: requests.get(cmk.vault.url + "/healthz",
                                    verify=dev_pki.ca,
                                    timeout=2).status_code == 200,
               what="answering /healthz")
    cmk.wait_state(t, "active", timeout=15)
    for k, v in data.items():
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == v


def test_outage_falls_back_to_the_availability_key(spawn, dev_pki, workdir):
    cmk = cmk_env(spawn, dev_pki, workdir, "--outage-grace-seconds", "1")
    t, s3, data = active_tenant(cmk, avk=True)
    cmk.vault.proc.stop()
    t0 = time.time()
    while time.time() - t0 < 8:
        for k, v in data.items():
            assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == v
        time.sleep(0.5)
    assert cmk.status(t)["state"] == "active"
    assert metric(cmk, "custos_store_cmk_availability_unwraps_total") >= 1
    assert any(e["type"] == "tk_unwrap" and
               e["detail"].get("root") == "availability_key"
               for e in events(cmk, t))


def test_the_availability_key_never_overrides_a_denial(spawn, dev_pki,
                                                       workdir):
    cmk = cmk_env(spawn, dev_pki, workdir, "--outage-grace-seconds", "1")
    t, s3, data = active_tenant(cmk, avk=True)
    cmk.vault.unassign("store-k1")
    cmk.wait_state(t, "inaccessible", timeout=10)
    time.sleep(4)
    assert get_code(s3) == "CustomerKeyInaccessible"
    assert metric(cmk, "custos_store_cmk_availability_unwraps_total") == 0
    assert not any(e["detail"].get("root") == "availability_key"
                   for e in events(cmk, t))


def test_revert_refused_by_operator_policy(spawn, dev_pki, workdir):
    cmk = cmk_env(spawn, dev_pki, workdir,
                  "--allow-revert-to-system-managed", "no")
    t, s3, data = active_tenant(cmk, n=1)
    r = cmk.store.admin("PUT", f"/admin/v1/tenants/{t['id']}/encryption",
                        token=t["admin_token"],
                        json={"mode": "system_managed"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "RevertNotAllowed"
    assert cmk.status(t)["state"] == "active"


def try_open(cmk, t, files):
    args = [f"{os.path.basename(os.path.dirname(os.path.dirname(p)))}"
            for p in files]
    del args
    pairs = [f"{k}={p}" for k, p in files.items()]
    return run_cli("tenant", "debug-try-open", "--data", cmk.store.data,
                   "--tenant", t["id"], "--bucket", "bkt", *pairs,
                   check=False)


def test_purge_grace_cancel_then_crypto_shred(spawn, dev_pki, workdir):
    cmk = cmk_env(spawn, dev_pki, workdir, "--purge-grace-seconds", "2")
    t, s3, data = active_tenant(cmk, avk=True)
    other = cmk.store.tenant("other")
    so = cmk.store.s3(other)
    so.create_bucket(Bucket="bkt")
    so.put_object(Bucket="bkt", Key="keep", Body=b"other's data")
    # keep copies of the tenant's object files, by key
    saved = {}
    keep = os.path.join(workdir, "saved")
    os.makedirs(keep)
    for k in data:
        vid = None
        for p in glob.glob(os.path.join(cmk.store.data, "objects", t["id"],
                                        "*", "*")):
            saved.setdefault(p, None)
        del vid
    # map keys to files through the version id: ask the store's database
    import sqlite3
    db = sqlite3.connect(os.path.join(cmk.store.data, "store.db"))
    rows = db.execute("SELECT key, path FROM objects WHERE tenant = ?",
                      (t["id"],)).fetchall()
    db.close()
    files = {}
    for key, rel in rows:
        dst = os.path.join(keep, os.path.basename(rel))
        shutil.copy(os.path.join(cmk.store.data, rel), dst)
        files[key] = dst
    assert len(files) == len(data)
    # positive control: with the AvK wrap present, the tool opens them
    p = try_open(cmk, t, files)
    assert p.returncode == 1 and f"{len(files)} of {len(files)}" in p.stdout
    path = f"/admin/v1/tenants/{t['id']}/purge"
    r = cmk.store.admin("POST", path, token=t["admin_token"],
                        json={"confirm": t["id"]})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "purge_pending"
    assert get_code(s3) == "TenantPurgePending"
    r = cmk.store.admin("DELETE", path, token=t["admin_token"])
    assert r.status_code == 200 and r.json()["state"] == "active"
    time.sleep(3)
    assert get_code(s3) == "OK"
    r = cmk.store.admin("POST", path, token=t["admin_token"],
                        json={"confirm": t["id"]})
    assert r.status_code == 202
    st = cmk.wait_state(t, "purged", timeout=15)
    assert st["state"] == "purged"
    # the tenant record stays; its data is gone
    r = cmk.store.admin("GET", f"/admin/v1/tenants/{t['id']}")
    assert r.status_code == 200 and r.json()["state"] == "purged"
    assert not os.path.exists(os.path.join(cmk.store.data, "objects",
                                           t["id"]))
    # the other tenant is untouched
    assert so.get_object(Bucket="bkt", Key="keep")["Body"].read() == \
        b"other's data"
    # every key material left (system, availability and master keys,
    # every blob in the database) against every former object: none opens
    cmk.store.proc.stop()
    p = try_open(cmk, t, files)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"0 of {len(files)} object files opened" in p.stdout
    assert "root candidates" in p.stdout


def test_cli_drives_the_lifecycle(cmk):
    env = dict(os.environ)
    env.update({"CUSTOS_STORE_URL": cmk.store.url,
                "CUSTOS_CA_FILE": cmk.pki.ca,
                "CUSTOS_OPERATOR_TOKEN": cmk.store.operator_token})
    env.pop("CUSTOS_TENANT_ADMIN_TOKEN", None)
    t = json.loads(run_cli("tenant", "create", "acme", env=env).stdout)
    env["CUSTOS_TENANT_ADMIN_TOKEN"] = t["admin_token"]
    cmk.rsa_key("k1")
    out = json.loads(run_cli("tenant", "encryption", t["id"], "--kid",
                             cmk.kid("k1"), env=env).stdout)
    assert out["state"] == "pending"
    cmk.wait_state(t, "active")
    out = json.loads(run_cli("tenant", "show", t["id"], env=env).stdout)
    assert out["state"] == "active"
    out = json.loads(run_cli("tenant", "check", t["id"], env=env).stdout)
    assert out["keys"][0]["status"] == "ok"
    out = json.loads(run_cli("tenant", "roll", t["id"], env=env).stdout)
    assert out["tenant_key_version"] == 2
    out = json.loads(run_cli("tenant", "events", t["id"], env=env).stdout)
    assert any(e["type"] == "tenant_key_rolled" for e in out["events"])
    p = run_cli("tenant", "purge", t["id"], "--cancel", env=env,
                check=False)
    assert p.returncode == 1 and "NoPurgePending" in p.stderr
    for sub in ("create", "show", "encryption", "check", "roll", "purge",
                "events", "debug-try-open"):
        assert run_cli("tenant", sub, "--help").returncode == 0


def test_a_long_lockout_leads_to_purge_by_operator_policy(spawn, dev_pki,
                                                         workdir):
    # 0.00003 days = 2.6 s locked out, then 2 s of purge grace
    cmk = cmk_env(spawn, dev_pki, workdir, "--inaccessible-purge-days",
                  "0.00003", "--purge-grace-seconds", "2")
    t, s3, data = active_tenant(cmk, n=1)
    cmk.vault.unassign("store-k1")
    cmk.wait_state(t, "inaccessible", timeout=10)
    st = cmk.wait_state(t, "purge_pending", "purged", timeout=10)
    assert st["state"] in ("purge_pending", "purged")
    cmk.wait_state(t, "purged", timeout=10)
    assert any(e["detail"].get("reason", "").startswith("inaccessible for")
               for e in events(cmk, t))


def test_bad_store_flags_are_refused():
    for flag, value in (("--inaccessible-purge-days", "-1"),
                        ("--inaccessible-purge-days", "x"),
                        ("--purge-grace-seconds", "0"),
                        ("--outage-grace-seconds", "abc"),
                        ("--allow-revert-to-system-managed", "maybe"),
                        ("--vault-events", "1")):
        p = run_cli("store", "serve", "--listen", "127.0.0.1:0",
                    "--tls-cert", "x", "--tls-key", "y", flag, value,
                    check=False)
        assert p.returncode == 2, (flag, value, p.stderr)
