"""custos store: the admin API (tenants) and the server basics."""
import os
import stat

import requests


def test_operator_token_file_is_created_0600(store):
    path = store.data + "-operator.token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for name in ("master.key", "system.key"):
        st = os.stat(os.path.join(store.data, name))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32


def test_tenant_create_list_show(store):
    t = store.tenant("acme")
    assert set(t) >= {"id", "name", "access_key_id", "secret_access_key",
                      "admin_token"}
    assert t["name"] == "acme"
    r = store.admin("GET", "/admin/v1/tenants")
    assert r.status_code == 200
    assert [x["name"] for x in r.json()["tenants"]] == ["acme"]
    assert "secret_access_key" not in r.text
    r = store.admin("GET", f"/admin/v1/tenants/{t['id']}")
    assert r.status_code == 200 and r.json()["state"] == "system_managed"
    # the tenant's own admin may read its tenant, nothing else
    r = store.admin("GET", f"/admin/v1/tenants/{t['id']}",
                    token=t["admin_token"])
    assert r.status_code == 200
    assert store.admin("GET", "/admin/v1/tenants",
                       token=t["admin_token"]).status_code == 401
    other = store.tenant("other")
    assert store.admin("GET", f"/admin/v1/tenants/{other['id']}",
                       token=t["admin_token"]).status_code == 401
    r = store.admin("GET", "/admin/v1/tenants/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "TenantNotFound"


def test_secrets_are_never_logged_or_stored_in_clear(store):
    t = store.tenant("acme")
    log = store.proc.log()
    assert t["secret_access_key"] not in log
    assert t["admin_token"] not in log
    assert store.operator_token not in log
    with open(os.path.join(store.data, "store.db"), "rb") as f:
        db = f.read()
    wal = os.path.join(store.data, "store.db-wal")
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            db += f.read()
    assert t["secret_access_key"].encode() not in db
    assert t["admin_token"].encode() not in db


def test_admin_api_requires_the_operator_token(store):
    assert store.admin("POST", "/admin/v1/tenants", token="",
                       json={"name": "x"}).status_code == 401
    r = store.admin("POST", "/admin/v1/tenants", token="wrong-token",
                    json={"name": "x"})
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"]["code"] == "Unauthorized"


def test_bad_tenant_requests(store):
    for body in ({"name": ""}, {"name": "UPPER"}, {"name": "a" * 65},
                 {"nom": "x"}, [1]):
        r = store.admin("POST", "/admin/v1/tenants", json=body)
        assert r.status_code == 400, body
    r = store.admin("POST", "/admin/v1/tenants", data=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    store.tenant("dup")
    r = store.admin("POST", "/admin/v1/tenants", json={"name": "dup"})
    assert r.status_code == 409


def test_healthz_and_metrics(store):
    r = requests.get(store.url + "/healthz", verify=store.pki.ca)
    assert r.status_code == 200
    r = requests.get(store.url + "/metrics", verify=store.pki.ca)
    assert r.status_code == 200 and "http_requests" in r.text


def test_restart_keeps_tenants_and_objects(spawn, dev_pki, workdir):
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    s3.put_object(Bucket="keep", Key="k", Body=b"durable")
    st.proc.stop()
    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)
    assert s3.get_object(Bucket="keep", Key="k")["Body"].read() == b"durable"


def test_kill_9_after_acknowledged_puts_loses_nothing(spawn, dev_pki,
                                                      workdir):
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    bodies = {f"k{i}": os.urandom(70000 + i) for i in range(10)}
    for k, v in bodies.items():
        s3.put_object(Bucket="keep", Key=k, Body=v)
    st.proc.kill()
    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)
    for k, v in bodies.items():
        assert s3.get_object(Bucket="keep", Key=k)["Body"].read() == v


def test_access_keys_are_added_listed_and_revoked(store):
    from botocore.exceptions import ClientError
    import pytest
    t = store.tenant("acme")
    tid = t["id"]
    # the tenant's own admin may add keys
    r = store.admin("POST", f"/admin/v1/tenants/{tid}/access-keys",
                    token=t["admin_token"])
    assert r.status_code == 201, r.text
    k2 = r.json()
    s3 = store.s3({"access_key_id": k2["access_key_id"],
                   "secret_access_key": k2["secret_access_key"]})
    s3.create_bucket(Bucket="bykey2")
    assert [b["Name"] for b in store.s3(t).list_buckets()["Buckets"]] == [
        "bykey2"]
    r = store.admin("GET", f"/admin/v1/tenants/{tid}/access-keys")
    keys = {k["access_key_id"]: k["state"] for k in r.json()["access_keys"]}
    assert keys == {t["access_key_id"]: "active",
                    k2["access_key_id"]: "active"}
    assert "secret" not in r.text
    r = store.admin("DELETE", f"/admin/v1/tenants/{tid}/access-keys/"
                    f"{k2['access_key_id']}")
    assert r.status_code == 204
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert store.admin("DELETE", f"/admin/v1/tenants/{tid}/access-keys/"
                       f"{k2['access_key_id']}").status_code == 404
    # another tenant's admin cannot touch these keys
    other = store.tenant("other")
    assert store.admin("POST", f"/admin/v1/tenants/{tid}/access-keys",
                       token=other["admin_token"]).status_code == 401
    assert store.admin("DELETE", f"/admin/v1/tenants/{other['id']}/"
                       f"access-keys/{t['access_key_id']}").status_code == 404
    store.s3(t).list_buckets()


def test_tenant_delete_only_when_it_has_no_buckets(store):
    t = store.tenant("gone")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="still-here")
    r = store.admin("DELETE", f"/admin/v1/tenants/{t['id']}",
                    token=t["admin_token"])
    assert r.status_code == 401
    r = store.admin("DELETE", f"/admin/v1/tenants/{t['id']}")
    assert r.status_code == 409
    s3.delete_bucket(Bucket="still-here")
    assert store.admin("DELETE",
                       f"/admin/v1/tenants/{t['id']}").status_code == 204
    assert store.admin("GET",
                       f"/admin/v1/tenants/{t['id']}").status_code == 404
    import pytest
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError):
        s3.list_buckets()
    # the name is free again
    store.tenant("gone")


def test_kill_9_during_an_upload_keeps_the_previous_version(spawn, dev_pki,
                                                            workdir):
    import threading
    import time
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    old = os.urandom(300000)
    s3.put_object(Bucket="keep", Key="k", Body=old)
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "keep", "Key": "k"}, ExpiresIn=60)
    sent = threading.Event()

    def body():
        for i in range(1000):
            yield b"n" * 65536
            if i == 20:
                sent.set()
            time.sleep(0.01)

    def upload():
        try:
            requests.put(url, data=body(), verify=dev_pki.ca, timeout=30)
        except Exception:
            pass

    th = threading.Thread(target=upload)
    th.start()
    assert sent.wait(20)
    st.proc.kill()
    th.join()
    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)
    assert s3.get_object(Bucket="keep", Key="k")["Body"].read() == old
    assert [o["Key"] for o in s3.list_objects_v2(
        Bucket="keep")["Contents"]] == ["k"]
    # the interrupted upload's file was swept at start
    files = []
    for root, _, names in os.walk(os.path.join(data, "objects")):
        files += names
    assert len(files) == 1
    assert "removed unreferenced data files" in st.proc.log()


def _metric(store, name):
    r = requests.get(store.url + "/metrics", verify=store.pki.ca)
    for line in r.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics:\n{r.text}")


def test_tenant_key_lease_ends_and_is_not_extended_by_use(spawn, dev_pki,
                                                          workdir):
    import time
    from conftest import start_store
    st = start_store(spawn, dev_pki, os.path.join(workdir, "store-data"),
                     "--lease-seconds", "2")
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="lease")
    s3.put_object(Bucket="lease", Key="k", Body=b"x")
    # used every 0.5 s: the lease still ends 2 s after the unwrap
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.5:
        s3.get_object(Bucket="lease", Key="k")["Body"].read()
        time.sleep(0.5)
    time.sleep(1.2)  # the sweeper publishes figures each second
    assert _metric(st, "custos_store_tenant_key_unwraps_total") >= 2
    # within a lease the object opened from its kept subkey
    assert _metric(st, "custos_store_object_subkey_hits_total") >= 2
    # idle: the key is wiped at the end of its lease
    time.sleep(3.5)
    assert _metric(st, "custos_store_tenant_keys_cached") == 0
    n = _metric(st, "custos_store_tenant_key_unwraps_total")
    misses = _metric(st, "custos_store_object_subkey_misses_total")
    s3.get_object(Bucket="lease", Key="k")["Body"].read()
    time.sleep(1.2)
    assert _metric(st, "custos_store_tenant_key_unwraps_total") == n + 1
    # the subkey went with the lease: this read used the data key
    assert _metric(st, "custos_store_object_subkey_misses_total") == \
        misses + 1
    assert _metric(st, "custos_store_tenant_keys_cached") == 1


def test_a_deleted_tenants_keys_leave_memory_at_once(spawn, dev_pki,
                                                      workdir):
    import time
    from conftest import start_store
    st = start_store(spawn, dev_pki, os.path.join(workdir, "store-data"))
    t = st.tenant("brief")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="brief-b")
    s3.put_object(Bucket="brief-b", Key="k", Body=b"x")
    assert s3.get_object(Bucket="brief-b", Key="k")["Body"].read() == b"x"
    time.sleep(1.2)  # the sweeper publishes figures each second
    assert _metric(st, "custos_store_tenant_keys_cached") == 1
    s3.delete_object(Bucket="brief-b", Key="k")
    s3.delete_bucket(Bucket="brief-b")
    assert st.admin("DELETE",
                    f"/admin/v1/tenants/{t['id']}").status_code == 204
    # well inside the 60 s lease: wiped by the delete itself
    time.sleep(1.2)
    assert _metric(st, "custos_store_tenant_keys_cached") == 0


def test_a_second_store_on_the_same_data_directory_is_refused(store, workdir):
    """The store keeps a memo of its metadata valid while it alone writes
    there (a revoked access key must stop the very next request): a
    second process on the same directory is stopped at the door."""
    from conftest import free_port, run_cli
    p = run_cli("store", "serve", "--listen", f"127.0.0.1:{free_port()}",
                "--tls-cert", store.pki.cert, "--tls-key", store.pki.key,
                "--data", store.data, "--operator-token-file",
                os.path.join(workdir, "second.token"), check=False,
                timeout=30)
    assert p.returncode != 0
    assert "another store is serving" in p.stderr
    assert store.admin("GET", "/admin/v1/tenants").status_code == 200


def _data_files(data):
    """Every file under DATA/objects, relative to it."""
    out = []
    top = os.path.join(data, "objects")
    for root, _, names in os.walk(top):
        out += [os.path.relpath(os.path.join(root, n), top) for n in names]
    return sorted(out)


def _slow_put(url, ca, chunks, started):
    """A streamed PUT that sends `chunks` 64 KiB chunks slowly (setting
    `started` after a few): still in flight when the store is killed."""
    import time

    def body():
        for i in range(chunks):
            yield bytes([i & 0xff]) * 65536
            if i == 8:
                started.set()
            time.sleep(0.01)

    try:
        return requests.put(url, data=body(), verify=ca, timeout=60)
    except Exception:
        return None


def test_kill_9_during_concurrent_uploads_loses_no_acknowledged_write(
        spawn, dev_pki, workdir):
    """Threads PUT small and multi-MiB objects (new keys and overwrites)
    and a multipart upload has acknowledged parts and parts in flight when
    the store is killed with SIGKILL. After a restart on the same data:
    every acknowledged PUT reads back byte for byte; every other one left
    its key absent, at its previous version, or (acknowledgement lost
    after the commit) at the new one, never anything else; the upload
    still lists exactly its acknowledged parts and completes; and no data
    file is left that nothing references."""
    import hashlib
    import threading
    import time
    from conftest import start_store
    data = os.path.join(workdir, "store-data")
    st = start_store(spawn, dev_pki, data)
    t = st.tenant("acme")
    s3 = st.s3(t)
    s3.create_bucket(Bucket="keep")
    threads_n, per_thread = 4, 40
    sizes = [17, 1024, 3 * 1024 * 1024 + 5, 70000, 100 * 1024,
             2 * 1024 * 1024]
    # the versions that the chaos overwrites (odd-numbered PUTs)
    previous = {}
    for tid in range(threads_n):
        for n in range(1, per_thread, 2):
            k = f"w{tid}-{n}"
            previous[k] = os.urandom(1000 + n)
            s3.put_object(Bucket="keep", Key=k, Body=previous[k])
    previous["slow"] = os.urandom(5000)
    s3.put_object(Bucket="keep", Key="slow", Body=previous["slow"])
    # a multipart upload with two acknowledged parts
    mpu = s3.create_multipart_upload(Bucket="keep", Key="mp")["UploadId"]
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024 + 3)]
    acked_parts = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket="keep", Key="mp", UploadId=mpu,
                           PartNumber=i, Body=p)
        acked_parts.append((i, r["ETag"], len(p)))

    attempts = []  # (key, body, acknowledged)
    lock = threading.Lock()
    stop = threading.Event()

    def writer(tid):
        c = st.s3(t)
        for n in range(per_thread):
            if stop.is_set():
                return
            k = f"w{tid}-{n}"
            body = os.urandom(sizes[(tid + n) % len(sizes)])
            try:
                c.put_object(Bucket="keep", Key=k, Body=body)
                ok = True
            except Exception:
                ok = False
            with lock:
                attempts.append((k, body, ok))
            if not ok:
                return

    # in flight for certain: an overwrite, a re-upload of acknowledged
    # part 2, and part 3
    started = [threading.Event() for _ in range(3)]
    slow = [
        (s3.generate_presigned_url(
            "put_object", Params={"Bucket": "keep", "Key": "slow"},
            ExpiresIn=120), started[0]),
        (s3.generate_presigned_url(
            "upload_part", Params={"Bucket": "keep", "Key": "mp",
                                   "UploadId": mpu, "PartNumber": 2},
            ExpiresIn=120), started[1]),
        (s3.generate_presigned_url(
            "upload_part", Params={"Bucket": "keep", "Key": "mp",
                                   "UploadId": mpu, "PartNumber": 3},
            ExpiresIn=120), started[2]),
    ]
    ths = [threading.Thread(target=_slow_put, args=(u, dev_pki.ca, 2000, e))
           for u, e in slow]
    ths += [threading.Thread(target=writer, args=(i,))
            for i in range(threads_n)]
    for th in ths:
        th.start()
    for e in started:
        assert e.wait(30)
    # kill once a good number, large ones among them, are acknowledged
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            done = [b for _, b, ok in attempts if ok]
        if len(done) >= 20 and sum(len(b) > 1024 * 1024
                                   for b in done) >= 3:
            break
        time.sleep(0.005)
    st.proc.kill()
    stop.set()
    for th in ths:
        th.join()
    acked = [a for a in attempts if a[2]]
    lost = [a for a in attempts if not a[2]]
    assert len(acked) >= 20 and lost, (len(acked), len(lost))

    st = start_store(spawn, dev_pki, data)
    s3 = st.s3(t)

    def content(k):
        try:
            r = s3.get_object(Bucket="keep", Key=k)
        except s3.exceptions.NoSuchKey:
            return None
        body = r["Body"].read()
        assert r["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"', k
        return body

    for k, body, _ in acked:
        assert content(k) == body, f"acknowledged {k} lost or damaged"
    for k, body, _ in lost:
        got = content(k)
        assert got in (previous.get(k), body), \
            f"unacknowledged {k}: {None if got is None else len(got)} bytes"
    assert content("slow") == previous["slow"]
    written = {k for k, _, _ in attempts}
    for k, body in previous.items():
        if k not in written:
            assert content(k) == body
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="keep"):
        keys |= {o["Key"] for o in page.get("Contents", [])}
    assert keys == {k for k in written | set(previous)
                    if content(k) is not None}

    # the upload survived with exactly its acknowledged parts
    ups = s3.list_multipart_uploads(Bucket="keep").get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mp", mpu)]
    r = s3.list_parts(Bucket="keep", Key="mp", UploadId=mpu)
    assert [(p["PartNumber"], p["ETag"], p["Size"])
            for p in r["Parts"]] == acked_parts
    # no file is left that nothing references
    singles = [k for k in keys if k != "mp"]
    files = _data_files(data)
    part_files = [f for f in files if f.split("/")[2] == f"{mpu}.mp"]
    assert len(part_files) == 2, files
    assert len(files) == len(singles) + 2, files
    assert "removed unreferenced data files" in st.proc.log()
    # and it completes
    last = os.urandom(1234)
    e3 = s3.upload_part(Bucket="keep", Key="mp", UploadId=mpu, PartNumber=3,
                        Body=last)["ETag"]
    r = s3.complete_multipart_upload(
        Bucket="keep", Key="mp", UploadId=mpu, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": acked_parts[0][1]},
            {"PartNumber": 2, "ETag": acked_parts[1][1]},
            {"PartNumber": 3, "ETag": e3}]})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts + [last])
    assert r["ETag"] == '"' + hashlib.md5(md5s).hexdigest() + '-3"'
    assert s3.get_object(Bucket="keep", Key="mp")["Body"].read() == \
        b"".join(parts) + last
    assert len(_data_files(data)) == len(singles) + 3
