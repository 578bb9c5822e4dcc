"""Customer-managed keys end to end (issue 5): enable, validate, re-wrap
only, roll, follow versions, revoke, restore, two keys."""
import hashlib
import os
import time

import botocore.exceptions
import pytest


def object_files(store, tenant):
    """{path: (inode, mtime_ns, sha256)} of every data file of tenant."""
    out = {}
    top = os.path.join(store.data, "objects", tenant["id"])
    for root, _, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                h = hashlib.sha256(fh.read()).hexdigest()
            out[p] = (st.st_ino, st.st_mtime_ns, h)
    return out


def s3_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def fill(s3, n=5, size=100_000):
    s3.create_bucket(Bucket="bkt")
    data = {}
    for i in range(n):
        body = os.urandom(size)
        s3.put_object(Bucket="bkt", Key=f"o{i}", Body=body)
        data[f"o{i}"] = body
    return data


def read_all(s3, data):
    for k, v in data.items():
        assert s3.get_object(Bucket="bkt", Key=k)["Body"].read() == v


def test_enable_goes_pending_then_active_and_rewraps_only(cmk):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3)
    before = object_files(store, t)
    cmk.rsa_key("k1")
    st = cmk.enable(t, [cmk.kid("k1")])
    assert st["state"] == "pending"
    st = cmk.wait_state(t, "active", "failed")
    assert st["state"] == "active", st
    assert st["mode"] == "customer_managed"
    assert st["keys"][0]["kid"] == cmk.kid("k1")
    assert st["keys"][0]["status"] == "ok"
    assert len(st["keys"][0]["version_in_use"]) == 32
    assert st["tenant_key_version"] == 1 and st["lease_seconds"] == 2
    # no object file was rewritten: enabling re-wrapped the TK only
    assert object_files(store, t) == before
    read_all(s3, data)
    r = s3.put_object(Bucket="bkt", Key="new", Body=b"x")
    assert r["ServerSideEncryption"] == "aws:kms"
    assert r["SSEKMSKeyId"] == cmk.kid("k1")
    h = s3.head_object(Bucket="bkt", Key="o0")
    assert h["ServerSideEncryption"] == "aws:kms"
    # the tenant record shows it too
    r = store.admin("GET", f"/admin/v1/tenants/{t['id']}")
    assert r.json()["state"] == "active"
    assert r.json()["encryption"]["mode"] == "customer_managed"
    # events: pending then active
    ev = store.admin("GET", f"/admin/v1/tenants/{t['id']}/events",
                     token=t["admin_token"]).json()["events"]
    states = [e["detail"].get("state") for e in ev
              if e["type"] == "state_changed"]
    assert states[:2] == ["pending", "active"]


def test_validation_failures_keep_the_previous_root(cmk, spawn, dev_pki,
                                                    workdir):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=2)
    kc = cmk.vault.key_client()
    # no role for the store
    cmk.rsa_key("norole", grant=False)
    # an EC key
    kc.create_ec_key("ec1", curve="P-256")
    cmk.vault.assign("store-ec1", "custos-store", "Key Vault Crypto "
                     "Service Encryption User", "/keys/ec1")
    # a disabled key
    cmk.rsa_key("off")
    kc.update_key_properties("off", enabled=False)
    # a vault without purge protection
    from conftest import start_vault_with_data, register_store_principal
    weak = start_vault_with_data(spawn, dev_pki,
                                 os.path.join(workdir, "weak-vault"))
    register_store_principal(weak, dev_pki, cmk.fp)
    cmk.rsa_key("weak", vault=weak)
    cases = [
        (cmk.kid("norole"), "PermissionDenied"),
        (cmk.kid("ec1"), "KeyTypeNotSupported"),
        (cmk.kid("off"), "KeyDisabled"),
        (cmk.kid("nosuch"), None),  # KeyNotFound or PermissionDenied
        (cmk.kid("weak", vault=weak), "PurgeProtectionDisabled"),
        ("https://localhost:9/keys/gone", "VaultUnreachable"),
    ]
    for kid, code in cases:
        cmk.enable(t, [kid])
        st = cmk.wait_state(t, "failed", "active")
        assert st["state"] == "failed", (kid, st)
        if code:
            assert st["reason"] == code, (kid, st)
        else:
            assert st["reason"] in ("KeyNotFound", "PermissionDenied"), st
        assert st["message"]
        assert st["mode"] == "system_managed"
        # the previous root (system key) is still in force
        read_all(s3, data)
        s3.put_object(Bucket="bkt", Key="after", Body=b"ok")


def test_bad_requests_get_clear_errors(cmk):
    store = cmk.store
    t = store.tenant("acme")
    path = f"/admin/v1/tenants/{t['id']}/encryption"
    tok = t["admin_token"]
    for body in ({"mode": "x"}, {"mode": "customer_managed"},
                 {"mode": "customer_managed", "keys": []},
                 {"mode": "customer_managed",
                  "keys": [{"kid": "http://v/keys/a"}]},
                 {"mode": "customer_managed",
                  "keys": [{"kid": "https://v/keys/a"}] * 2},
                 {"mode": "customer_managed",
                  "keys": [{"kid": f"https://v/keys/{i}"}
                           for i in range(3)]},
                 {"mode": "system_managed", "extra": 1}, [], "x"):
        r = store.admin("PUT", path, token=tok, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] in ("InvalidEncryptionRequest",
                                             "InvalidKeyIdentifier")
    r = store.admin("PUT", path, token=tok, data=b"{not json")
    assert r.status_code == 400
    assert store.admin("PUT", path, token="",
                       json={"mode": "system_managed"}).status_code == 401
    other = store.tenant("other")
    assert store.admin("PUT", path, token=other["admin_token"],
                       json={"mode": "system_managed"}).status_code == 401
    r = store.admin("POST", f"/admin/v1/tenants/{t['id']}/purge",
                    token=tok, json={"confirm": "wrong"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "ConfirmationRequired"


def test_swap_and_leave_rewrap_only_in_time_independent_of_data(cmk):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=3, size=10_000)
    cmk.rsa_key("k1")
    cmk.rsa_key("k2")
    timings = []
    t0 = time.time()
    cmk.enable(t, [cmk.kid("k1")])
    assert cmk.wait_state(t, "active", "failed")["state"] == "active"
    timings.append(time.time() - t0)
    # much more data: the swap must not take longer
    for i in range(20):
        s3.put_object(Bucket="bkt", Key=f"big{i}", Body=os.urandom(1 << 20))
    before = object_files(store, t)
    t0 = time.time()
    cmk.enable(t, [cmk.kid("k2")])
    st = cmk.wait_state(t, "active", "failed")
    timings.append(time.time() - t0)
    assert st["state"] == "active" and st["keys"][0]["kid"] == cmk.kid("k2")
    assert object_files(store, t) == before
    read_all(s3, data)
    # the old key is no longer needed: removing the store's role on k1
    # changes nothing
    cmk.vault.unassign("store-k1")
    time.sleep(3)
    read_all(s3, data)
    # leave customer-managed keys
    r = store.admin("PUT", f"/admin/v1/tenants/{t['id']}/encryption",
                    token=t["admin_token"], json={"mode": "system_managed"})
    assert r.status_code == 202, r.text
    st = cmk.wait_state(t, "system_managed", "failed")
    assert st["state"] == "system_managed" and st["mode"] == "system_managed"
    assert object_files(store, t) == before
    cmk.vault.unassign("store-k2")
    time.sleep(3)
    read_all(s3, data)
    assert s3.put_object(Bucket="bkt", Key="n",
                         Body=b"x")["ServerSideEncryption"] == "AES256"
    # 20 MiB more data did not make the re-wrap slower in any
    # measurable way (it is a few vault calls)
    assert timings[1] < max(2.0, timings[0] * 3), timings


def test_roll_starts_a_new_tenant_key_version(cmk):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=2, size=1000)
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    cmk.wait_state(t, "active")
    r = store.admin("POST", f"/admin/v1/tenants/{t['id']}/encryption/roll",
                    token=t["admin_token"])
    assert r.status_code == 200, r.text
    assert r.json()["tenant_key_version"] == 2
    assert cmk.status(t)["tenant_key_version"] == 2
    s3.put_object(Bucket="bkt", Key="v2", Body=b"two")
    read_all(s3, data)
    assert s3.get_object(Bucket="bkt", Key="v2")["Body"].read() == b"two"


def test_new_key_version_is_picked_up(cmk):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=2, size=1000)
    k = cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    st = cmk.wait_state(t, "active")
    v1 = st["keys"][0]["version_in_use"]
    assert v1 == k.properties.version
    k2 = cmk.vault.key_client().create_rsa_key("k1", size=2048)
    assert k2.properties.version != v1
    t0 = time.time()
    while time.time() - t0 < 10:
        st = cmk.status(t)
        if st["keys"][0]["version_in_use"] == k2.properties.version:
            break
        time.sleep(0.1)
    assert st["keys"][0]["version_in_use"] == k2.properties.version, st
    read_all(s3, data)
    # the old version may now be disabled: the TK is wrapped under the new
    cmk.vault.key_client().update_key_properties("k1", v1, enabled=False)
    time.sleep(2.5)
    read_all(s3, data)


def revocation_roundtrip(cmk, revoke, restore):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=3, size=5000)
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    cmk.wait_state(t, "active")
    read_all(s3, data)
    t0 = time.time()
    revoke()
    # within one lease (2 s) plus a check interval, data is refused
    while time.time() - t0 < 10:
        try:
            s3.get_object(Bucket="bkt", Key="o0")["Body"].read()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "CustomerKeyInaccessible"
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert cmk.kid("k1") in e.response["Error"]["Message"]
            break
        time.sleep(0.1)
    elapsed = time.time() - t0
    assert elapsed < 4.5, elapsed
    st = cmk.wait_state(t, "inaccessible")
    assert st["reason"]
    for call in (lambda: s3.get_object(Bucket="bkt", Key="o1"),
                 lambda: s3.put_object(Bucket="bkt", Key="x", Body=b"x"),
                 lambda: s3.copy_object(Bucket="bkt", Key="c",
                                        CopySource="bkt/o1"),
                 lambda: s3.create_multipart_upload(Bucket="bkt", Key="m")):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            call()
        assert s3_code(ei) == "CustomerKeyInaccessible"
    # metadata reads and deletes still work
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bkt"]
    s3.head_bucket(Bucket="bkt")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]]
    assert "o2" in keys
    s3.delete_object(Bucket="bkt", Key="o2")
    del data["o2"]
    # a security event and a counter
    ev = store.admin("GET", f"/admin/v1/tenants/{t['id']}/events",
                     token=t["admin_token"]).json()["events"]
    assert any(e["type"] == "state_changed" and
               e["detail"].get("state") == "inaccessible" for e in ev)
    import requests
    m = requests.get(store.url + "/metrics", verify=cmk.pki.ca).text
    assert "custos_store_cmk_denials_total 1" in m
    # restore: back to active by itself, every object reads back
    restore()
    cmk.wait_state(t, "active", timeout=15)
    read_all(s3, data)
    s3.put_object(Bucket="bkt", Key="after", Body=b"ok")
    return elapsed


def test_revocation_by_role_removal_then_restore(cmk):
    revocation_roundtrip(
        cmk, lambda: cmk.vault.unassign("store-k1"),
        lambda: cmk.vault.assign("store-k1", "custos-store",
                                 "Key Vault Crypto Service Encryption User",
                                 "/keys/k1"))


def test_revocation_by_key_disable_then_restore(cmk):
    kc = cmk.vault.key_client()
    revocation_roundtrip(
        cmk, lambda: kc.update_key_properties("k1", enabled=False),
        lambda: kc.update_key_properties("k1", enabled=True))


def test_two_keys_one_lost_stays_active(cmk):
    store = cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=2, size=1000)
    cmk.rsa_key("k1")
    cmk.rsa_key("k2")
    cmk.enable(t, [cmk.kid("k1"), cmk.kid("k2")])
    st = cmk.wait_state(t, "active", "failed")
    assert st["state"] == "active", st
    assert [k["kid"] for k in st["keys"]] == [cmk.kid("k1"), cmk.kid("k2")]
    cmk.vault.unassign("store-k1")
    time.sleep(4)
    st = cmk.status(t)
    assert st["state"] == "active"
    assert st["keys"][0]["status"] != "ok"
    assert st["keys"][1]["status"] == "ok"
    read_all(s3, data)
    s3.put_object(Bucket="bkt", Key="n", Body=b"n")
    ev = store.admin("GET", f"/admin/v1/tenants/{t['id']}/events",
                     token=t["admin_token"]).json()["events"]
    assert any(e["type"] == "key_lost" for e in ev)
    # losing the second one too: inaccessible
    cmk.vault.unassign("store-k2")
    cmk.wait_state(t, "inaccessible", timeout=10)


def test_events_propagate_revocation_and_new_versions_within_a_second(
        spawn, dev_pki, workdir):
    """Lease and check interval 60 s: only the vault's event stream can
    make the store react this fast."""
    from conftest import (CmkEnv, register_store_principal, start_cmk_store,
                          start_vault_with_data)
    vault = start_vault_with_data(spawn, dev_pki,
                                  os.path.join(workdir, "vault-data"),
                                  "--retention-days", "7",
                                  "--purge-protection")
    cert, key, fp = register_store_principal(vault, dev_pki)
    store = start_cmk_store(spawn, dev_pki,
                            os.path.join(workdir, "store-data"), cert, key,
                            "--lease-seconds", "60",
                            "--cmk-check-seconds", "60")
    cmk = CmkEnv(vault, store, dev_pki, fp)
    t = store.tenant("acme")
    s3 = store.s3(t)
    data = fill(s3, n=2, size=1000)
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    v1 = cmk.wait_state(t, "active")["keys"][0]["version_in_use"]
    time.sleep(1.5)  # the subscriber is following the vault
    # a new version is picked up
    t0 = time.time()
    k2 = vault.key_client().create_rsa_key("k1", size=2048)
    while cmk.status(t)["keys"][0]["version_in_use"] == v1:
        assert time.time() - t0 < 5
        time.sleep(0.05)
    pickup = time.time() - t0
    assert cmk.status(t)["keys"][0]["version_in_use"] == \
        k2.properties.version
    # revocation (role removed) refuses data within a second
    t0 = time.time()
    vault.unassign("store-k1")
    while True:
        try:
            s3.get_object(Bucket="bkt", Key="o0")["Body"].read()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "CustomerKeyInaccessible"
            break
        assert time.time() - t0 < 5
        time.sleep(0.05)
    revocation = time.time() - t0
    print(f"events: pick-up {pickup:.3f} s, revocation {revocation:.3f} s")
    assert pickup < 1.5 and revocation < 1.5, (pickup, revocation)
    # restore through the role_assigned event
    t0 = time.time()
    vault.assign("store-k1", "custos-store",
                 "Key Vault Crypto Service Encryption User", "/keys/k1")
    cmk.wait_state(t, "active", timeout=5)
    assert time.time() - t0 < 2
    read_all(s3, data)


def test_polling_alone_revokes_within_one_lease(spawn, dev_pki, workdir):
    """No event stream: the lease (3 s, counted from the unwrap and never
    extended) bounds the revocation."""
    from conftest import make_cmk_env
    cmk = make_cmk_env(spawn, dev_pki, workdir, "--lease-seconds", "3",
                       "--cmk-check-seconds", "60", "--vault-events", "no")
    vault, store = cmk.vault, cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    fill(s3, n=1, size=1000)
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    cmk.wait_state(t, "active")
    s3.get_object(Bucket="bkt", Key="o0")["Body"].read()
    t0 = time.time()
    vault.unassign("store-k1")
    while True:
        try:
            s3.get_object(Bucket="bkt", Key="o0")["Body"].read()
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "CustomerKeyInaccessible"
            break
        assert time.time() - t0 < 10
        time.sleep(0.05)
    took = time.time() - t0
    print(f"polling: revocation {took:.3f} s (lease 3 s)")
    assert took <= 3 + 1.0, took


def test_tenant_reader_reads_settings_and_events_only(cmk):
    store = cmk.store
    t = store.tenant("acme")
    other = store.tenant("other")
    base = f"/admin/v1/tenants/{t['id']}"
    r = store.admin("POST", base + "/reader-tokens", token=t["admin_token"])
    assert r.status_code == 201, r.text
    reader = r.json()["reader_token"]
    assert reader.startswith("cur_")
    assert reader not in store.proc.log()
    for path in ("", "/encryption", "/events"):
        assert store.admin("GET", base + path,
                           token=reader).status_code == 200, path
    for method, path, body in (
            ("PUT", "/encryption", {"mode": "system_managed"}),
            ("POST", "/encryption/check", None),
            ("POST", "/encryption/roll", None),
            ("POST", "/purge", {"confirm": t["id"]}),
            ("DELETE", "/purge", None),
            ("GET", "/access-keys", None),
            ("POST", "/access-keys", None),
            ("POST", "/reader-tokens", None)):
        r = store.admin(method, base + path, token=reader, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "ReadOnlyToken"
    # another tenant's reader, or a made-up token: unauthorized
    ro = store.admin("POST", f"/admin/v1/tenants/{other['id']}/reader-tokens",
                     token=other["admin_token"]).json()["reader_token"]
    assert store.admin("GET", base + "/encryption",
                       token=ro).status_code == 401
    assert store.admin("GET", base + "/encryption",
                       token="cur_" + "A" * 43).status_code == 401


def test_a_key_denied_after_the_gate_is_refused_not_reported_as_damage(
        spawn, dev_pki, workdir):
    """The data gate makes the tenant's latest TK usable; an object of an
    older TK version needs that version too, which may have to come from
    the vault right then (its lease ended). A denial at that moment is a
    revocation (403 CustomerKeyInaccessible), not a damaged object (it
    was 500 "failed its integrity check")."""
    from conftest import make_cmk_env
    cmk = make_cmk_env(spawn, dev_pki, workdir, "--lease-seconds", "3",
                       "--cmk-check-seconds", "60", "--vault-events", "no")
    vault, store = cmk.vault, cmk.store
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="old", Body=b"v1",
                  Metadata={"m": "1"})
    cmk.rsa_key("k1")
    cmk.enable(t, [cmk.kid("k1")])
    cmk.wait_state(t, "active")
    time.sleep(3.5)  # TK version 1's lease ends
    r = store.admin("POST", f"/admin/v1/tenants/{t['id']}/encryption/roll",
                    token=t["admin_token"])
    assert r.status_code == 200, r.text
    # TK version 2 in use (and leased); then the key is disabled
    s3.put_object(Bucket="bkt", Key="new", Body=b"v2")
    vault.key_client().update_key_properties("k1", enabled=False)
    # one request each, no client retries (boto3 retries a 500 and its
    # second attempt would meet the gate refusing); the copy first, as
    # the gate still lets requests in until a read meets the denial
    import boto3
    import botocore.config
    import requests
    once = boto3.client(
        "s3", endpoint_url=store.url, verify=cmk.pki.ca,
        region_name="us-east-1", aws_access_key_id=t["access_key_id"],
        aws_secret_access_key=t["secret_access_key"],
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      signature_version="s3v4",
                                      retries={"max_attempts": 0}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        once.copy_object(Bucket="bkt", Key="copy",
                         CopySource={"Bucket": "bkt", "Key": "old"})
    assert e.value.response["Error"]["Code"] == "CustomerKeyInaccessible", \
        e.value.response
    for method in ("get_object", "head_object"):
        url = s3.generate_presigned_url(method, Params={"Bucket": "bkt",
                                                        "Key": "old"})
        r = requests.request("GET" if method == "get_object" else "HEAD",
                             url, verify=cmk.pki.ca, timeout=30)
        assert r.status_code == 403, (method, r.status_code, r.text)
        if method == "get_object":
            assert "<Code>CustomerKeyInaccessible</Code>" in r.text, r.text
            assert cmk.kid("k1") in r.text
    assert cmk.status(t)["state"] == "inaccessible"
    # no security event for a damaged object
    m = requests.get(store.url + "/metrics", verify=cmk.pki.ca).text
    assert "custos_store_tamper_detected_total 0" in m or \
        "custos_store_tamper_detected_total" not in m, m
