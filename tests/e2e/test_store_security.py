"""custos store: isolation, authentication and tamper detection."""
import binascii
import hashlib
import hmac
import json
import os
import time
from xml.etree import ElementTree

import pytest
import requests
from botocore.exceptions import ClientError


def err(e):
    return e.value.response["Error"]["Code"]


def object_files(store):
    out = []
    for root, _, names in os.walk(os.path.join(store.data, "objects")):
        out += [os.path.join(root, n) for n in names]
    return out


def tamper_count(store):
    r = requests.get(store.url + "/metrics", verify=store.pki.ca)
    assert r.status_code == 200
    for line in r.text.splitlines():
        if line.startswith("custos_store_tamper_detected_total "):
            return int(float(line.split()[1]))
    raise AssertionError("no custos_store_tamper_detected_total")


def tamper_events(store):
    return [json.loads(line) for line in store.proc.log().splitlines()
            if '"tamper_detected"' in line]


def assert_tamper_recorded(store, at_least):
    """Reads of a damaged object were logged as security events and
    counted, one each (boto3 retries a 500 once)."""
    events = tamper_events(store)
    assert len(events) >= at_least, store.proc.log()
    for e in events:
        assert e["level"] == "warn" and e["event"] == "tamper_detected"
    assert tamper_count(store) == len(events)


def test_tenants_are_isolated_whatever_the_bucket_names(store):
    a, b = store.tenant("alpha"), store.tenant("beta")
    sa, sb = store.s3(a), store.s3(b)
    sa.create_bucket(Bucket="shared-name")
    sb.create_bucket(Bucket="shared-name")  # unique per tenant only
    sa.put_object(Bucket="shared-name", Key="k", Body=b"alpha's")
    sb.put_object(Bucket="shared-name", Key="k", Body=b"beta's")
    assert sa.get_object(Bucket="shared-name",
                         Key="k")["Body"].read() == b"alpha's"
    assert sb.get_object(Bucket="shared-name",
                         Key="k")["Body"].read() == b"beta's"
    sa.create_bucket(Bucket="alpha-only")
    sa.put_object(Bucket="alpha-only", Key="secret", Body=b"s")
    assert [x["Name"] for x in sb.list_buckets()["Buckets"]] == [
        "shared-name"]
    with pytest.raises(ClientError) as e:
        sb.get_object(Bucket="alpha-only", Key="secret")
    assert err(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        sb.list_objects_v2(Bucket="alpha-only")
    assert err(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        sb.delete_object(Bucket="alpha-only", Key="secret")
    assert err(e) == "NoSuchBucket"
    sb.delete_objects(Bucket="shared-name", Delete={"Objects": [
        {"Key": "k"}]})
    assert sa.get_object(Bucket="shared-name",
                         Key="k")["Body"].read() == b"alpha's"


def test_bad_signature_and_unknown_key_are_refused(store):
    t = store.tenant("acme")
    good = store.s3(t)
    good.create_bucket(Bucket="data")
    real = t["secret_access_key"]
    # change the first character, whatever it is
    wrong = ("y" if real[0] == "x" else "x") + real[1:]
    bad = store.s3({"access_key_id": t["access_key_id"],
                    "secret_access_key": wrong})
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket="data")
    assert err(e) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket="data", Key="k", Body=b"x")
    assert err(e) == "SignatureDoesNotMatch"
    unknown = store.s3({"access_key_id": "CUAAAAAAAAAAAAAAAAAA",
                        "secret_access_key": t["secret_access_key"]})
    with pytest.raises(ClientError) as e:
        unknown.list_buckets()
    assert err(e) == "InvalidAccessKeyId"
    assert object_files(store) == []
    r = requests.get(store.url + "/", verify=store.pki.ca)
    assert r.status_code == 403


@pytest.mark.parametrize("where", ["header", "wrapped_dek", "segment",
                                   "last_byte", "truncate", "append"])
def test_tampered_data_file_never_yields_wrong_bytes(store, where):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    body = os.urandom(3 * 65536 + 5)
    s3.put_object(Bucket="data", Key="k", Body=body)
    (path,) = object_files(store)
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        if where == "header":
            data[6] ^= 1
        elif where == "wrapped_dek":
            data[20] ^= 1
        elif where == "segment":
            data[200 + 65536] ^= 1
        elif where == "last_byte":
            data[-1] ^= 1
        elif where == "truncate":
            data = data[:-1]
        else:
            data += b"\0"
        f.seek(0)
        f.truncate()
        f.write(bytes(data))
    with pytest.raises(Exception):
        got = s3.get_object(Bucket="data", Key="k")["Body"].read()
        assert got == body  # never reached with wrong bytes
        raise AssertionError("tampered object was served")
    # a range in an untouched segment may still be served, but only
    # authentic bytes
    try:
        r = s3.get_object(Bucket="data", Key="k", Range="bytes=0-99")
        assert r["Body"].read() == body[:100]
    except ClientError:
        pass
    assert_tamper_recorded(store, 1)


def test_a_data_file_moved_to_another_object_does_not_decrypt(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="one", Body=b"one's content")
    ones = object_files(store)
    s3.put_object(Bucket="data", Key="two", Body=b"two's content")
    twos = [f for f in object_files(store) if f not in ones]
    one = s3.head_object(Bucket="data", Key="one")
    # which file is whose, told by creation order, not by mtime ties
    files = ones + twos
    assert len(ones) == 1 and len(twos) == 1 and one
    with open(files[0], "rb") as f:
        first = f.read()
    with open(files[1], "wb") as f:  # two's file now holds one's bytes
        f.write(first)
    assert tamper_count(store) == 0 and tamper_events(store) == []
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="two")["Body"].read()
    assert err(e) == "InternalError"
    assert_tamper_recorded(store, 1)
    for ev in tamper_events(store):
        assert ev["tenant"] == t["id"] and ev["bucket"] == "data"
    # the object whose file it really is still reads
    assert s3.get_object(Bucket="data", Key="one")["Body"].read() == \
        b"one's content"


def test_a_data_file_moved_to_another_tenant_does_not_decrypt(store):
    a, b = store.tenant("alpha"), store.tenant("beta")
    sa, sb = store.s3(a), store.s3(b)
    for s in (sa, sb):
        s.create_bucket(Bucket="data")
    sa.put_object(Bucket="data", Key="k", Body=b"alpha's secret")
    sb.put_object(Bucket="data", Key="k", Body=b"beta's secret!")
    fa = [p for p in object_files(store) if f"/{a['id']}/" in p][0]
    fb = [p for p in object_files(store) if f"/{b['id']}/" in p][0]
    with open(fa, "rb") as f:
        data = f.read()
    with open(fb, "wb") as f:
        f.write(data)
    assert tamper_count(store) == 0 and tamper_events(store) == []
    with pytest.raises(ClientError) as e:
        sb.get_object(Bucket="data", Key="k")["Body"].read()
    assert err(e) == "InternalError"
    assert_tamper_recorded(store, 1)
    for ev in tamper_events(store):
        assert ev["tenant"] == b["id"] and ev["bucket"] == "data"
    assert sa.get_object(Bucket="data", Key="k")["Body"].read() == \
        b"alpha's secret"


def test_metadata_moved_to_another_object_is_detected_on_get_and_copy(store):
    """An object's sealed metadata is bound to it like its content: moved
    to another object's row it does not open, and neither a GET nor a
    CopyObject that would carry it over (COPY directive) passes it on;
    each is a tamper event, and the copy leaves no destination."""
    import sqlite3
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="one", Body=b"one's content",
                  Metadata={"owner": "one"}, ContentDisposition="one.txt")
    s3.put_object(Bucket="data", Key="two", Body=b"two's content",
                  Metadata={"owner": "two"})
    db = sqlite3.connect(os.path.join(store.data, "store.db"), timeout=10)
    with db:
        db.execute("UPDATE objects SET meta_sealed = (SELECT meta_sealed "
                   "FROM objects WHERE key = 'one') WHERE key = 'two'")
    db.close()
    assert tamper_count(store) == 0 and tamper_events(store) == []
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="data", Key="two")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert_tamper_recorded(store, 1)
    seen = len(tamper_events(store))
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="data", Key="copy",
                       CopySource={"Bucket": "data", "Key": "two"})
    assert err(e) == "InternalError"
    assert_tamper_recorded(store, seen + 1)
    for ev in tamper_events(store):
        assert ev["tenant"] == t["id"] and ev["bucket"] == "data"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="data", Key="copy")
    assert err(e) == "404"
    # the object whose metadata it really is still reads with it
    one = s3.get_object(Bucket="data", Key="one")
    assert one["Metadata"] == {"owner": "one"}
    assert one["ContentDisposition"] == "one.txt"


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "./x", "//x",
                                 "x" * 1024, "\u00e9\u00e8/\u4e2d"])
def test_path_like_keys_are_just_names(store, key):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key=key, Body=key.encode())
    assert s3.get_object(Bucket="data", Key=key)["Body"].read() == \
        key.encode()
    assert [o["Key"] for o in s3.list_objects_v2(
        Bucket="data")["Contents"]] == [key]
    for p in object_files(store):
        assert p.startswith(os.path.join(store.data, "objects"))


def test_overlong_keys_and_metadata_are_refused(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="data", Key="x" * 1025, Body=b"x")
    assert err(e) == "KeyTooLongError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="data", Key="k", Body=b"x",
                      Metadata={"big": "v" * 3000})
    assert err(e) == "MetadataTooLarge"
    assert object_files(store) == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket="data", Key="k")


def test_malformed_delete_xml_is_refused(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    for body in (b"<Delete><Object><Key>k</Key></Object>",
                 b"<!DOCTYPE x [<!ENTITY a 'b'>]><Delete/>", b"junk"):
        r = store.signed(t, "POST", "/data?delete", body)
        assert r.status_code == 400, r.text
        assert b"<Code>MalformedXML</Code>" in r.content
    assert s3.get_object(Bucket="data", Key="k")["Body"].read() == b"x"


# ---- aws-chunked uploads, signed chunk by chunk ----

def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg,
                    hashlib.sha256).digest()


def chunked_put(store, t, key, chunks, tamper=None, encoding="aws-chunked"):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as the AWS SDKs do
    over plain HTTP; returns the response."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    class Streaming(botocore.auth.S3SigV4Auth):
        def payload(self, request):
            return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

    total = sum(len(c) for c in chunks)
    creds = botocore.credentials.Credentials(t["access_key_id"],
                                             t["secret_access_key"])
    req = botocore.awsrequest.AWSRequest(
        method="PUT", url=f"{store.url}/data/{key}", headers={
            "Content-Encoding": encoding,
            "x-amz-decoded-content-length": str(total)})
    auth = Streaming(creds, "s3", "us-east-1")
    auth.add_auth(req)
    seed = req.headers["Authorization"].split("Signature=")[1]
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    k = _hmac(("AWS4" + t["secret_access_key"]).encode(), amz_date[:8])
    k = _hmac(_hmac(_hmac(k, "us-east-1"), "s3"), "aws4_request")
    prev, body = seed, b""
    empty = hashlib.sha256(b"").hexdigest()
    for c in list(chunks) + [b""]:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                         empty, hashlib.sha256(c).hexdigest()])
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        data = c
        if tamper is not None and c and tamper == len(body):
            data = bytes([c[0] ^ 1]) + c[1:]
        body += f"{len(c):x};chunk-signature={sig}\r\n".encode() + data + \
            b"\r\n"
        prev = sig
    headers = dict(req.headers)
    headers["Content-Length"] = str(len(body))
    return requests.put(req.url, data=body, headers=headers,
                        verify=store.pki.ca)


def test_aws_chunked_signed_upload(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    chunks = [os.urandom(65536), os.urandom(70000), os.urandom(10)]
    r = chunked_put(store, t, "chunky", chunks)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="data", Key="chunky")["Body"].read() == \
        b"".join(chunks)
    r = chunked_put(store, t, "bad", chunks, tamper=0)
    assert r.status_code == 403, r.text
    assert b"SignatureDoesNotMatch" in r.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket="data", Key="bad")
    assert len(object_files(store)) == 1


def test_aws_chunked_is_not_kept_as_the_content_encoding(store):
    """It names how the body was sent: S3 keeps only the other codings."""
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    for key, sent, kept in (("plain", "aws-chunked", None),
                            ("gz", "aws-chunked,gzip", "gzip"),
                            ("gz2", "gzip, aws-chunked", "gzip")):
        r = chunked_put(store, t, key, [b"z" * 100], encoding=sent)
        assert r.status_code == 200, r.text
        h = s3.head_object(Bucket="data", Key=key)
        assert h.get("ContentEncoding") == kept, key
        assert h["ContentLength"] == 100


def test_unsigned_trailer_upload_with_crc32(store):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER, what newer AWS SDKs send."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import base64

    class Trailer(botocore.auth.S3SigV4Auth):
        def payload(self, request):
            return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    data = os.urandom(100000)
    for good in (True, False):
        crc = binascii.crc32(data if good else data[1:]) & 0xffffffff
        b64 = base64.b64encode(crc.to_bytes(4, "big")).decode()
        creds = botocore.credentials.Credentials(t["access_key_id"],
                                                 t["secret_access_key"])
        req = botocore.awsrequest.AWSRequest(
            method="PUT", url=f"{store.url}/data/tr{int(good)}", headers={
                "Content-Encoding": "aws-chunked",
                "x-amz-trailer": "x-amz-checksum-crc32",
                "x-amz-decoded-content-length": str(len(data))})
        Trailer(creds, "s3", "us-east-1").add_auth(req)
        body = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n" + \
            f"x-amz-checksum-crc32:{b64}\r\n\r\n".encode()
        r = requests.put(req.url, data=body, headers=dict(req.headers),
                         verify=store.pki.ca)
        if good:
            assert r.status_code == 200, r.text
        else:
            assert r.status_code in (400, 403), r.text
    assert s3.get_object(Bucket="data", Key="tr1")["Body"].read() == data
    with pytest.raises(ClientError):
        s3.head_object(Bucket="data", Key="tr0")


def test_expired_presigned_url_is_refused(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(url, verify=store.pki.ca)
    assert r.status_code == 403
    assert b"AccessDenied" in r.content


# ---- requests written by hand: undecodable paths, Expect: 100-continue ----

class RawReply:
    def __init__(self):
        self.interim = []  # status lines of 1xx replies, in order
        self.status = None
        self.headers = {}
        self.body = b""
        self.body_sent = False


def raw_request(store, method, path, headers=None, body=b"",
                expect_continue=False, timeout=3.0):
    """One request on a fresh TLS connection, written by hand: `path` goes
    out byte for byte (requests and botocore would re-quote it) and, with
    expect_continue, the body is sent only once the server has answered
    `100 Continue`; a final reply that comes first means it is never
    sent. A server that sends neither within `timeout` fails the test."""
    import socket
    import ssl
    host = store.url.split("://")[1]
    h = {"Host": host, "Content-Length": str(len(body))}
    h.update(headers or {})
    if expect_continue:
        h["Expect"] = "100-continue"
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    ctx = ssl.create_default_context(cafile=store.pki.ca)
    out = RawReply()
    with socket.create_connection(("127.0.0.1", int(host.split(":")[1])),
                                  timeout=timeout) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(head.encode())
        if body and not expect_continue:
            s.sendall(body)
            out.body_sent = True
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    raise AssertionError(f"no reply to {method} {path} "
                                         f"within {timeout} s: {buf!r}")
                assert chunk, f"connection closed: {buf!r}"
                buf += chunk
            block, buf = buf.split(b"\r\n\r\n", 1)
            lines = block.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if 100 <= status < 200:
                out.interim.append(lines[0])
                if status == 100 and body and not out.body_sent:
                    s.sendall(body)
                    out.body_sent = True
                continue
            out.status = status
            for line in lines[1:]:
                k, v = line.split(":", 1)
                out.headers[k.strip().lower()] = v.strip()
            n = int(out.headers.get("content-length", "0"))
            while len(buf) < n:
                chunk = s.recv(65536)
                assert chunk, "connection closed mid-body"
                buf += chunk
            out.body = buf[:n]
            return out


def access_log(store, path, count):
    """The access-log lines of `path` once there are `count` of them (a
    line is written when the request completes, which may be just after
    the client has its reply)."""
    logged = path.replace("%", "%25")  # the log escapes '%'
    for _ in range(100):
        lines = [json.loads(line) for line in store.proc.log().splitlines()
                 if '"msg":"request"' in line and
                 f'"path":"{logged}"' in line]
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    return lines


BAD_URIS = ["/data/a%00b", "/data/%00", "/data/a%zz", "/data/a%4",
            "/data/a%", "/data/ok/%C3%00", "/da%00ta", "/data%zz/k", "/%00"]


def test_undecodable_paths_get_invalid_uri_and_store_nothing(store):
    """A path with a bad %XX escape or an encoded NUL names no object: S3
    answers 400 InvalidURI, signed or not, before reading the body."""
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    body = os.urandom(256 * 1024)
    for path in BAD_URIS:
        asks = [
            ("PUT", store.sign(t, "PUT", path, body), body),
            ("PUT", {}, body),
            ("GET", store.sign(t, "GET", path), b""),
            ("GET", {}, b""),
            ("DELETE", store.sign(t, "DELETE", path), b""),
        ]
        for method, headers, data in asks:
            r = raw_request(store, method, path, headers, data,
                            expect_continue=bool(data))
            what = f"{method} {path} signed={bool(headers)}"
            assert r.status == 400, (what, r.status, r.body)
            assert r.interim == [] and not r.body_sent, what
            assert r.headers["content-type"] == "application/xml", what
            doc = ElementTree.fromstring(r.body)
            assert doc.findtext("Code") == "InvalidURI", (what, r.body)
            assert doc.findtext("Message") == \
                "Couldn't parse the specified URI.", what
            assert r.headers.get("x-amz-request-id"), what
        lines = access_log(store, path, len(asks))
        assert len(lines) == len(asks), (path, lines)
        for line in lines:
            assert line["status"] == 400 and line["bytes_in"] == 0, line
    assert object_files(store) == []
    assert s3.list_objects_v2(Bucket="data")["KeyCount"] == 0
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["data"]
    # a key that merely looks odd is still a key
    for key in ("a%b", "100%", "%00"):
        s3.put_object(Bucket="data", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="data", Key=key)["Body"].read() == \
            key.encode()


def test_expect_100_continue_comes_before_a_signed_put_body(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    body = os.urandom(3 * 1024 * 1024 + 7)
    path = "/data/continued"
    r = raw_request(store, "PUT", path,
                    store.sign(t, "PUT", path, body,
                                   {"Expect": "100-continue"}),
                    body, expect_continue=True)
    assert r.interim == ["HTTP/1.1 100 Continue"], r.interim
    assert r.status == 200, r.body
    assert r.headers["etag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    assert s3.get_object(Bucket="data", Key="continued")["Body"].read() == \
        body
    # a refusal comes instead of the 100, and the body is never sent
    wrong = dict(t, secret_access_key="x" + t["secret_access_key"][1:])
    r = raw_request(store, "PUT", "/data/refused",
                    store.sign(wrong, "PUT", "/data/refused",
                                   body), body, expect_continue=True)
    assert r.status == 403 and r.interim == [] and not r.body_sent
    assert b"SignatureDoesNotMatch" in r.body
    with pytest.raises(ClientError):
        s3.head_object(Bucket="data", Key="refused")
