"""custos store: isolation, authentication and tamper detection."""
import binascii
import hashlib
import hmac
import os
import time

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
    assert "tamper_detected" in store.proc.log()
    r = requests.get(store.url + "/metrics", verify=store.pki.ca)
    assert "custos_store_tamper_detected_total 0" not in r.text


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
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="two")["Body"].read()
    assert err(e) == "InternalError"


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
    with pytest.raises(ClientError) as e:
        sb.get_object(Bucket="data", Key="k")["Body"].read()
    assert err(e) == "InternalError"


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
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    creds = botocore.credentials.Credentials(t["access_key_id"],
                                             t["secret_access_key"])
    for body in (b"<Delete><Object><Key>k</Key></Object>",
                 b"<!DOCTYPE x [<!ENTITY a 'b'>]><Delete/>", b"junk"):
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=store.url + "/data?delete", data=body)
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        r = requests.post(req.url, data=body, headers=dict(req.headers),
                          verify=store.pki.ca)
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
