"""custos store: the S3 API with boto3 (Debian's python3-boto3)."""
import datetime
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

SEG = 65536


def err(e):
    return e.value.response["Error"]["Code"]


@pytest.fixture
def acme(store):
    return store.tenant("acme")


@pytest.fixture
def s3(store, acme):
    return store.s3(acme)


def test_buckets_are_created_listed_located_headed_and_deleted(s3):
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="docs.2024")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["docs.2024", "photos"]
    assert s3.head_bucket(Bucket="photos")["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket="photos")[
        "LocationConstraint"] is None
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="photos")
    assert err(e) == "BucketAlreadyOwnedByYou"
    s3.delete_bucket(Bucket="photos")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="photos")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="photos")
    assert err(e) == "NoSuchBucket"


@pytest.mark.parametrize("name", ["ab", "UPPER", "a_b", "-ab", "ab-",
                                  "a..b", "192.168.1.1", "x" * 64,
                                  "admin", "xn--abc"])
def test_invalid_bucket_names_are_refused(s3, name):
    with pytest.raises(Exception):
        s3.create_bucket(Bucket=name)
    assert s3.list_buckets()["Buckets"] == []


def test_a_bucket_is_deleted_only_when_empty(s3):
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="full")
    assert err(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="full", Key="k")
    s3.delete_bucket(Bucket="full")


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 17])
def test_objects_round_trip_with_md5_etag(s3, size):
    s3.create_bucket(Bucket="data")
    body = os.urandom(size)
    r = s3.put_object(Bucket="data", Key="obj", Body=body)
    etag = '"%s"' % hashlib.md5(body).hexdigest()
    assert r["ETag"] == etag
    assert r["ServerSideEncryption"] == "AES256"
    g = s3.get_object(Bucket="data", Key="obj")
    assert g["Body"].read() == body
    assert g["ETag"] == etag
    assert g["ContentLength"] == size
    assert g["ServerSideEncryption"] == "AES256"
    assert g["LastModified"] is not None
    assert "x-amz-request-id" in g["ResponseMetadata"]["HTTPHeaders"]


def test_head_object_gives_size_type_and_metadata(s3):
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="dir/file.json", Body=b"{}" * 100,
                  ContentType="application/json",
                  Metadata={"owner": "alice", "purpose": "a b=c;d"})
    h = s3.head_object(Bucket="data", Key="dir/file.json")
    assert h["ContentLength"] == 200
    assert h["ContentType"] == "application/json"
    assert h["Metadata"]["owner"] == "alice"
    assert "last-modified" in h["ResponseMetadata"]["HTTPHeaders"]
    g = s3.get_object(Bucket="data", Key="dir/file.json")
    assert g["Metadata"]["owner"] == "alice"


def test_user_metadata_is_not_stored_in_clear(store, s3):
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"x",
                  Metadata={"secretish": "marker-7f3a9c"})
    with open(os.path.join(store.data, "store.db"), "rb") as f:
        db = f.read()
    wal = os.path.join(store.data, "store.db-wal")
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            db += f.read()
    assert b"marker-7f3a9c" not in db


def test_overwrite_replaces_the_version_and_its_file(store, s3, acme):
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"one")
    s3.put_object(Bucket="data", Key="k", Body=b"two")
    assert s3.get_object(Bucket="data", Key="k")["Body"].read() == b"two"
    files = []
    for root, _, names in os.walk(os.path.join(store.data, "objects")):
        files += names
    assert len(files) == 1
    s3.delete_object(Bucket="data", Key="k")
    files = []
    for root, _, names in os.walk(os.path.join(store.data, "objects")):
        files += names
    assert files == []


def test_missing_objects_and_buckets_give_s3_errors(s3):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="nothere", Key="k")
    assert err(e) == "NoSuchBucket"
    s3.create_bucket(Bucket="data")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k")
    assert err(e) == "NoSuchKey"
    # deleting a missing key is not an error, as in S3
    s3.delete_object(Bucket="data", Key="k")


@pytest.mark.parametrize("rng,lo,hi", [
    ("bytes=0-0", 0, 1),
    ("bytes=0-65535", 0, SEG),
    ("bytes=65535-65536", SEG - 1, SEG + 1),
    ("bytes=65530-131080", 65530, 131081),
    ("bytes=131072-", 2 * SEG, 3 * SEG + 100),
    ("bytes=-100", 3 * SEG, 3 * SEG + 100),
    ("bytes=-1000000", 0, 3 * SEG + 100),
    ("bytes=100-99999999", 100, 3 * SEG + 100),
])
def test_ranges_across_segment_edges(s3, rng, lo, hi):
    s3.create_bucket(Bucket="data")
    body = os.urandom(3 * SEG + 100)
    s3.put_object(Bucket="data", Key="big", Body=body)
    g = s3.get_object(Bucket="data", Key="big", Range=rng)
    assert g["Body"].read() == body[lo:hi]
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == f"bytes {lo}-{hi - 1}/{len(body)}"


def test_unsatisfiable_range_is_416_invalid_range(s3):
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"0123456789")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k", Range="bytes=10-20")
    assert err(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    # a malformed range is ignored: the whole object
    g = s3.get_object(Bucket="data", Key="k", Range="bytes=5-2")
    assert g["Body"].read() == b"0123456789"


def test_conditional_gets(s3):
    s3.create_bucket(Bucket="data")
    etag = s3.put_object(Bucket="data", Key="k", Body=b"abc")["ETag"]
    assert s3.get_object(Bucket="data", Key="k",
                         IfMatch=etag)["Body"].read() == b"abc"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k", IfMatch='"00"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    import datetime
    lm = s3.head_object(Bucket="data", Key="k")["LastModified"]
    later = lm + datetime.timedelta(hours=1)
    earlier = lm - datetime.timedelta(hours=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k", IfModifiedSince=later)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket="data", Key="k",
                         IfModifiedSince=earlier)["Body"].read() == b"abc"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="data", Key="k", IfUnmodifiedSince=earlier)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_list_objects_v2_prefix_delimiter_pages(s3):
    s3.create_bucket(Bucket="data")
    keys = ["a.txt", "b/1", "b/2", "c/x/1", "c/y", "d", "e+f g", "\u00e9t\u00e9"]
    for k in keys:
        s3.put_object(Bucket="data", Key=k, Body=k.encode())
    r = s3.list_objects_v2(Bucket="data")
    assert [o["Key"] for o in r["Contents"]] == sorted(
        keys, key=lambda k: k.encode())
    assert r["KeyCount"] == len(keys)
    r = s3.list_objects_v2(Bucket="data", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a.txt", "d", "e+f g",
                                                 "\u00e9t\u00e9"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "c/"]
    r = s3.list_objects_v2(Bucket="data", Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["c/y"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/x/"]
    r = s3.list_objects_v2(Bucket="data", StartAfter="c/y")
    assert [o["Key"] for o in r["Contents"]][0] == "d"
    # pages of two, with delimiter: items are keys and prefixes
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket="data", Delimiter="/", MaxKeys=2,
                               **kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        seen += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert sorted(seen) == sorted(["a.txt", "b/", "c/", "d", "e+f g",
                                   "\u00e9t\u00e9"])
    paginator = s3.get_paginator("list_objects_v2")
    allkeys = []
    for page in paginator.paginate(Bucket="data", PaginationConfig={
            "PageSize": 3}):
        allkeys += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(allkeys) == sorted(keys)


def test_list_objects_v1_with_markers(s3):
    s3.create_bucket(Bucket="data")
    for i in range(7):
        s3.put_object(Bucket="data", Key=f"k{i}", Body=b"x")
    paginator = s3.get_paginator("list_objects")
    allkeys = []
    for page in paginator.paginate(Bucket="data", PaginationConfig={
            "PageSize": 2}):
        allkeys += [o["Key"] for o in page.get("Contents", [])]
    assert allkeys == [f"k{i}" for i in range(7)]


def test_list_objects_v1_prefix_delimiter_and_markers(s3):
    s3.create_bucket(Bucket="data")
    keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d", "e"]
    for k in keys:
        s3.put_object(Bucket="data", Key=k, Body=b"x")
    r = s3.list_objects(Bucket="data", Prefix="c/")
    assert [o["Key"] for o in r["Contents"]] == ["c/x/1", "c/y"]
    assert r["Prefix"] == "c/" and not r["IsTruncated"]
    r = s3.list_objects(Bucket="data", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b", "d", "e"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    assert r["Delimiter"] == "/" and "NextMarker" not in r
    r = s3.list_objects(Bucket="data", Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["c/y"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/x/"]
    r = s3.list_objects(Bucket="data", Marker="c/y")
    assert r["Marker"] == "c/y"
    assert [o["Key"] for o in r["Contents"]] == ["d", "e"]
    # a marker inside a common prefix's keys skips that prefix's rest
    r = s3.list_objects(Bucket="data", Marker="a/1", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b", "d", "e"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    # pages by hand: NextMarker (only given with a delimiter) is the last
    # key or common prefix of the page, and the next page starts after it
    seen, marker, pages = [], "", 0
    while True:
        r = s3.list_objects(Bucket="data", Delimiter="/", MaxKeys=2,
                            Marker=marker)
        page = [o["Key"] for o in r.get("Contents", [])] + \
            [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert len(page) <= 2 and r["Marker"] == marker
        seen += page
        pages += 1
        if not r["IsTruncated"]:
            assert "NextMarker" not in r
            break
        assert r["NextMarker"] == max(page)
        marker = r["NextMarker"]
    assert sorted(seen) == ["a/", "b", "c/", "d", "e"] and pages == 3
    # without a delimiter no NextMarker: the client goes on from its
    # last key
    r = s3.list_objects(Bucket="data", MaxKeys=3)
    assert r["IsTruncated"] and "NextMarker" not in r
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2", "b"]


# ---- listings with encoding-type=url, read as the raw XML ----

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ODD_KEYS = ["100%", "a b/1", "a b/2", "c+d", "caf\u00e9", "plain", "x/y z"]


def q(v):
    """A query value as a client sends it (every reserved byte encoded)."""
    from urllib.parse import quote
    return quote(v, safe="")


def list_xml(store, acme, query):
    r = store.signed(acme, "GET", "/data?" + query)
    assert r.status_code == 200, r.text
    from xml.etree import ElementTree
    return ElementTree.fromstring(r.content)


def texts(doc, path):
    """Texts of the elements at `path` ("Contents/Key") in S3's namespace."""
    return [e.text or "" for e in doc.findall(
        "/".join(S3NS + p for p in path.split("/")))]


def text(doc, name):
    got = texts(doc, name)
    assert len(got) <= 1, (name, got)
    return got[0] if got else None


@pytest.fixture
def odd(s3):
    s3.create_bucket(Bucket="data")
    for k in ODD_KEYS:
        s3.put_object(Bucket="data", Key=k, Body=b"x")
    return s3


def test_list_objects_v2_encoding_type_url_raw(store, acme, odd):
    d = list_xml(store, acme, "list-type=2&encoding-type=url")
    assert text(d, "EncodingType") == "url"
    # space as %20 (botocore's unquote_plus reads it as S3's '+'), '+' and
    # '%' encoded, UTF-8 bytes each encoded, '/' kept
    assert texts(d, "Contents/Key") == [
        "100%25", "a%20b/1", "a%20b/2", "c%2Bd", "caf%C3%A9", "plain",
        "x/y%20z"]
    d = list_xml(store, acme, "list-type=2&encoding-type=url&prefix=" +
                 q("a b/"))
    assert text(d, "Prefix") == "a%20b/"
    assert texts(d, "Contents/Key") == ["a%20b/1", "a%20b/2"]
    d = list_xml(store, acme, "list-type=2&encoding-type=url&delimiter=" +
                 q("/"))
    assert text(d, "Delimiter") == "/"
    assert texts(d, "CommonPrefixes/Prefix") == ["a%20b/", "x/"]
    assert texts(d, "Contents/Key") == ["100%25", "c%2Bd", "caf%C3%A9",
                                        "plain"]
    d = list_xml(store, acme, "list-type=2&encoding-type=url&delimiter=" +
                 q("+") + "&start-after=" + q("a b/2"))
    assert text(d, "Delimiter") == "%2B"
    assert text(d, "StartAfter") == "a%20b/2"
    assert texts(d, "CommonPrefixes/Prefix") == ["c%2B"]
    assert texts(d, "Contents/Key") == ["caf%C3%A9", "plain", "x/y%20z"]
    # without encoding-type the names are the XML text as they are
    d = list_xml(store, acme, "list-type=2&prefix=" + q("caf\u00e9"))
    assert text(d, "EncodingType") is None
    assert text(d, "Prefix") == "caf\u00e9"
    assert texts(d, "Contents/Key") == ["caf\u00e9"]
    # and boto3 (which asks for url itself) decodes what we encoded
    r = odd.list_objects_v2(Bucket="data", Delimiter="+",
                            StartAfter="a b/2")
    assert [o["Key"] for o in r["Contents"]] == ["caf\u00e9", "plain",
                                                 "x/y z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c+"]


def test_list_objects_v1_encoding_type_url_raw(store, acme, odd):
    d = list_xml(store, acme, "encoding-type=url&marker=" + q("c+d"))
    assert text(d, "EncodingType") == "url"
    assert text(d, "Marker") == "c%2Bd"
    assert texts(d, "Contents/Key") == ["caf%C3%A9", "plain", "x/y%20z"]
    d = list_xml(store, acme, "encoding-type=url&delimiter=" + q("/") +
                 "&max-keys=2")
    assert text(d, "IsTruncated") == "true"
    assert texts(d, "Contents/Key") == ["100%25"]
    assert texts(d, "CommonPrefixes/Prefix") == ["a%20b/"]
    assert text(d, "NextMarker") == "a%20b/"
    d = list_xml(store, acme, "encoding-type=url&prefix=" + q("a b/") +
                 "&delimiter=" + q(" "))
    assert text(d, "Prefix") == "a%20b/"
    assert text(d, "Delimiter") == "%20"
    d = list_xml(store, acme, "encoding-type=url&delimiter=" + q(" "))
    assert texts(d, "CommonPrefixes/Prefix") == ["a%20", "x/y%20"]
    r = odd.list_objects(Bucket="data", Delimiter="/", MaxKeys=2)
    assert r["NextMarker"] == "a b/"
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a b/"]


def test_list_object_versions_encoding_type_url_raw(store, acme, odd):
    d = list_xml(store, acme, "versions&encoding-type=url&key-marker=" +
                 q("c+d") + "&max-keys=2")
    assert text(d, "EncodingType") == "url"
    assert text(d, "KeyMarker") == "c%2Bd"
    assert texts(d, "Version/Key") == ["caf%C3%A9", "plain"]
    assert text(d, "IsTruncated") == "true"
    assert text(d, "NextKeyMarker") == "plain"
    d = list_xml(store, acme, "versions&encoding-type=url&prefix=" +
                 q("x/y ") + "&delimiter=" + q("%"))
    assert text(d, "Prefix") == "x/y%20"
    assert text(d, "Delimiter") == "%25"
    assert texts(d, "Version/Key") == ["x/y%20z"]
    d = list_xml(store, acme, "versions&encoding-type=url&delimiter=" +
                 q("%"))
    assert texts(d, "CommonPrefixes/Prefix") == ["100%25"]
    d = list_xml(store, acme, "versions&encoding-type=url&max-keys=1&"
                 "key-marker=" + q("a b/2"))
    assert text(d, "NextKeyMarker") == "c%2Bd"
    r = odd.list_object_versions(Bucket="data", KeyMarker="a b/2")
    assert [v["Key"] for v in r["Versions"]] == ["c+d", "caf\u00e9",
                                                 "plain", "x/y z"]


@pytest.mark.parametrize("query", ["list-type=2&", "", "versions&"])
def test_an_unknown_encoding_type_is_refused(store, acme, s3, query):
    s3.create_bucket(Bucket="data")
    for enc in ("base64", "URL"):
        r = store.signed(acme, "GET", f"/data?{query}encoding-type={enc}")
        assert r.status_code == 400, (query, enc, r.text)
        assert b"<Code>InvalidArgument</Code>" in r.content
        assert b"Invalid Encoding Method" in r.content


def test_delete_objects(s3):
    s3.create_bucket(Bucket="data")
    for k in ("a", "b", "c"):
        s3.put_object(Bucket="data", Key=k, Body=b"x")
    r = s3.delete_objects(Bucket="data", Delete={
        "Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(
        Bucket="data")["Contents"]] == ["c"]


def test_presigned_urls_v4_and_v2(store, acme, s3, dev_pki):
    import botocore.config
    import boto3
    import requests
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="p/q.txt", Body=b"presigned!")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "p/q.txt"},
        ExpiresIn=60)
    r = requests.get(url, verify=dev_pki.ca)
    assert r.status_code == 200 and r.content == b"presigned!"
    # tamper with the signature
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    r = requests.get(bad[:len(url)], verify=dev_pki.ca)
    assert r.status_code == 403
    v2 = boto3.client("s3", endpoint_url=store.url, verify=dev_pki.ca,
                      region_name="us-east-1",
                      aws_access_key_id=acme["access_key_id"],
                      aws_secret_access_key=acme["secret_access_key"],
                      config=botocore.config.Config(
                          s3={"addressing_style": "path"},
                          signature_version="s3"))
    url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "p/q.txt"},
        ExpiresIn=60)
    assert "AWSAccessKeyId=" in url
    r = requests.get(url, verify=dev_pki.ca)
    assert r.status_code == 200 and r.content == b"presigned!"
    # a presigned PUT
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "data", "Key": "up"}, ExpiresIn=60)
    r = requests.put(url, data=b"uploaded", verify=dev_pki.ca)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="data", Key="up")["Body"].read() == \
        b"uploaded"


def test_signed_payload_hash_is_checked(store, acme, dev_pki):
    """Over plain SigV4 with a real x-amz-content-sha256 (what HTTP clients
    send), a body that does not match is refused and nothing is stored."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests
    creds = botocore.credentials.Credentials(acme["access_key_id"],
                                             acme["secret_access_key"])
    s3 = store.s3(acme)
    s3.create_bucket(Bucket="data")

    def signed_put(signed_body, sent_body):
        req = botocore.awsrequest.AWSRequest(
            method="PUT", url=store.url + "/data/obj", data=signed_body)
        req.context["payload_signing_enabled"] = True
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
        assert req.headers["x-amz-content-sha256"] == \
            hashlib.sha256(signed_body).hexdigest()
        return requests.put(req.url, data=sent_body,
                            headers=dict(req.headers), verify=dev_pki.ca)

    good = b"exact bytes"
    r = signed_put(good, good)
    assert r.status_code == 200, r.text
    r = signed_put(good, b"other bytes")
    assert r.status_code == 400
    assert b"XAmzContentSHA256Mismatch" in r.content
    assert s3.get_object(Bucket="data", Key="obj")["Body"].read() == good


def test_errors_are_s3_xml_with_request_ids(store, dev_pki):
    import requests
    r = requests.get(store.url + "/somebucket/key", verify=dev_pki.ca)
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in r.content
    assert r.headers["x-amz-request-id"]
    assert r.headers["x-amz-request-id"].encode() in r.content


def test_concurrent_puts_and_gets_of_one_key(store, acme):
    """Concurrent PUTs to one key leave exactly one of them; readers see
    a whole version, never a mix or an error."""
    import concurrent.futures
    s3 = store.s3(acme, max_pool_connections=16)
    s3.create_bucket(Bucket="race")
    bodies = [bytes([i]) * (70000 + i) for i in range(8)]
    s3.put_object(Bucket="race", Key="k", Body=bodies[0])

    def put(i):
        s3.put_object(Bucket="race", Key="k", Body=bodies[i])

    def get(_):
        return s3.get_object(Bucket="race", Key="k")["Body"].read()

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
        futs = [ex.submit(put, i) for i in range(8) for _ in range(3)]
        gets = [ex.submit(get, i) for i in range(24)]
        for f in futs:
            f.result()
        for g in gets:
            assert g.result() in bodies
    final = get(0)
    assert final in bodies
    files = []
    for root, _, names in os.walk(os.path.join(store.data, "objects")):
        files += names
    assert len(files) == 1


def test_versions_versioning_and_bucket_encryption(s3):
    s3.create_bucket(Bucket="conf")
    for k in ("a", "b/c", "d"):
        s3.put_object(Bucket="conf", Key=k, Body=b"x")
    r = s3.list_object_versions(Bucket="conf")
    assert [(v["Key"], v["VersionId"], v["IsLatest"])
            for v in r["Versions"]] == [("a", "null", True),
                                        ("b/c", "null", True),
                                        ("d", "null", True)]
    r = s3.list_object_versions(Bucket="conf", Delimiter="/", MaxKeys=1)
    assert r["IsTruncated"] and r["NextKeyMarker"] == "a"
    assert "Status" not in s3.get_bucket_versioning(Bucket="conf")
    enc = s3.get_bucket_encryption(Bucket="conf")
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == \
        "AES256"
    s3.put_bucket_encryption(
        Bucket="conf", ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "AES256"}}]})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(
            Bucket="conf", ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms"}}]})
    assert err(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_acl(Bucket="conf")
    assert err(e) == "NotImplemented"


def test_copy_object(store, s3, acme):
    s3.create_bucket(Bucket="src-bucket")
    s3.create_bucket(Bucket="dst-bucket")
    body = os.urandom(3 * SEG + 11)
    s3.put_object(Bucket="src-bucket", Key="a b/src", Body=body,
                  ContentType="text/x-src", Metadata={"m": "1"})
    r = s3.copy_object(Bucket="dst-bucket", Key="copy",
                       CopySource={"Bucket": "src-bucket", "Key": "a b/src"})
    assert r["CopyObjectResult"]["ETag"] == \
        '"%s"' % hashlib.md5(body).hexdigest()
    g = s3.get_object(Bucket="dst-bucket", Key="copy")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/x-src"
    assert g["Metadata"] == {"m": "1"}
    s3.copy_object(Bucket="dst-bucket", Key="copy2",
                   CopySource={"Bucket": "src-bucket", "Key": "a b/src"},
                   MetadataDirective="REPLACE", ContentType="text/new",
                   Metadata={"n": "2"})
    h = s3.head_object(Bucket="dst-bucket", Key="copy2")
    assert h["ContentType"] == "text/new" and h["Metadata"] == {"n": "2"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="src-bucket", Key="a b/src",
                       CopySource={"Bucket": "src-bucket",
                                   "Key": "a b/src"})
    assert err(e) == "InvalidRequest"
    # replacing itself with new metadata is allowed
    s3.copy_object(Bucket="src-bucket", Key="a b/src",
                   CopySource={"Bucket": "src-bucket", "Key": "a b/src"},
                   MetadataDirective="REPLACE", Metadata={"m": "3"})
    g = s3.get_object(Bucket="src-bucket", Key="a b/src")
    assert g["Body"].read() == body and g["Metadata"] == {"m": "3"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="dst-bucket", Key="x",
                       CopySource={"Bucket": "src-bucket", "Key": "nope"})
    assert err(e) == "NoSuchKey"
    # another tenant cannot copy from this one's bucket
    other = store.s3(store.tenant("other"))
    other.create_bucket(Bucket="theirs")
    with pytest.raises(ClientError) as e:
        other.copy_object(Bucket="theirs", Key="stolen",
                          CopySource={"Bucket": "src-bucket",
                                      "Key": "a b/src"})
    assert err(e) == "NoSuchBucket"


def test_copy_of_a_multipart_object(s3):
    s3.create_bucket(Bucket="mpc-bucket")
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    u = s3.create_multipart_upload(Bucket="mpc-bucket", Key="big")
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket="mpc-bucket", Key="big",
                           UploadId=u["UploadId"], PartNumber=i, Body=p)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket="mpc-bucket", Key="big",
                                 UploadId=u["UploadId"],
                                 MultipartUpload={"Parts": done})
    s3.copy_object(Bucket="mpc-bucket", Key="big-copy",
                   CopySource={"Bucket": "mpc-bucket", "Key": "big"})
    g = s3.get_object(Bucket="mpc-bucket", Key="big-copy")
    assert g["Body"].read() == b"".join(parts)


def test_presigned_get_with_response_overrides(s3, dev_pki):
    import requests
    s3.create_bucket(Bucket="dl-bucket")
    s3.put_object(Bucket="dl-bucket", Key="r.bin", Body=b"data")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": "dl-bucket", "Key": "r.bin",
        "ResponseContentDisposition": 'attachment; filename="x.bin"',
        "ResponseContentType": "application/x-test"})
    r = requests.get(url, verify=dev_pki.ca)
    assert r.status_code == 200 and r.content == b"data"
    assert r.headers["Content-Disposition"] == 'attachment; filename="x.bin"'
    assert r.headers["Content-Type"] == "application/x-test"


# ---- the standard headers S3 keeps with an object ----

STD = ("CacheControl", "ContentDisposition", "ContentEncoding",
       "ContentLanguage", "Expires")
STD_HEADERS = {
    "CacheControl": "max-age=3600, must-revalidate",
    "ContentDisposition": "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
    "ContentEncoding": "gzip",
    "ContentLanguage": "de-CH",
    "Expires": datetime.datetime(2037, 10, 21, 7, 28,
                                 tzinfo=datetime.timezone.utc),
}


def assert_std(r, want):
    """A get_object or head_object reply has exactly the standard headers
    of want."""
    for name in STD:
        assert r.get(name) == want.get(name), name
    if "Expires" in want:
        assert r["ResponseMetadata"]["HTTPHeaders"]["expires"] == \
            want["Expires"].strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_put_object_keeps_the_standard_headers_sealed(store, s3):
    s3.create_bucket(Bucket="hdr")
    s3.put_object(Bucket="hdr", Key="all", Body=b"x" * 100,
                  ContentType="application/pdf", Metadata={"owner": "alice"},
                  **STD_HEADERS)
    for r in (s3.head_object(Bucket="hdr", Key="all"),
              s3.get_object(Bucket="hdr", Key="all")):
        assert_std(r, STD_HEADERS)
        assert r["ContentType"] == "application/pdf"
        assert r["Metadata"] == {"owner": "alice"}
        assert r["ContentLength"] == 100
    s3.put_object(Bucket="hdr", Key="one", Body=b"y", ContentLanguage="fr")
    g = s3.get_object(Bucket="hdr", Key="one")
    assert_std(g, {"ContentLanguage": "fr"})
    assert g["Metadata"] == {} and g["Body"].read() == b"y"
    s3.put_object(Bucket="hdr", Key="none", Body=b"z")
    assert_std(s3.head_object(Bucket="hdr", Key="none"), {})
    # sealed with the user metadata: the file name is nowhere in clear
    db = b""
    for name in ("store.db", "store.db-wal"):
        path = os.path.join(store.data, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                db += f.read()
    assert b"r%C3%A9sum" not in db and b"must-revalidate" not in db


def test_copy_object_copies_or_replaces_the_standard_headers(s3):
    s3.create_bucket(Bucket="hdr")
    s3.put_object(Bucket="hdr", Key="src", Body=b"body",
                  Metadata={"m": "1"}, **STD_HEADERS)
    s3.copy_object(Bucket="hdr", Key="copied",
                   CopySource={"Bucket": "hdr", "Key": "src"},
                   MetadataDirective="COPY", CacheControl="ignored")
    g = s3.get_object(Bucket="hdr", Key="copied")
    assert g["Body"].read() == b"body" and g["Metadata"] == {"m": "1"}
    assert_std(g, STD_HEADERS)
    s3.copy_object(Bucket="hdr", Key="replaced",
                   CopySource={"Bucket": "hdr", "Key": "src"},
                   MetadataDirective="REPLACE", CacheControl="no-store",
                   ContentDisposition="inline")
    h = s3.head_object(Bucket="hdr", Key="replaced")
    assert_std(h, {"CacheControl": "no-store",
                   "ContentDisposition": "inline"})
    assert h["Metadata"] == {}


def test_multipart_upload_carries_the_standard_headers(s3):
    s3.create_bucket(Bucket="hdr")
    u = s3.create_multipart_upload(Bucket="hdr", Key="mp",
                                   Metadata={"camera": "x100"},
                                   **STD_HEADERS)
    r = s3.upload_part(Bucket="hdr", Key="mp", UploadId=u["UploadId"],
                       PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(
        Bucket="hdr", Key="mp", UploadId=u["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
    h = s3.head_object(Bucket="hdr", Key="mp")
    assert_std(h, STD_HEADERS)
    assert h["Metadata"] == {"camera": "x100"}


def test_response_overrides_win_over_the_stored_headers(s3, dev_pki):
    import requests
    s3.create_bucket(Bucket="hdr")
    s3.put_object(Bucket="hdr", Key="doc", Body=b"data",
                  CacheControl="max-age=60", ContentDisposition="inline",
                  ContentLanguage="de-CH")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": "hdr", "Key": "doc",
        "ResponseCacheControl": "no-store",
        "ResponseContentDisposition": 'attachment; filename="d.bin"',
        "ResponseExpires": datetime.datetime(
            2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)})
    r = requests.get(url, verify=dev_pki.ca)
    assert r.status_code == 200 and r.content == b"data"
    # each once: requests joins a repeated header with ", "
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Disposition"] == 'attachment; filename="d.bin"'
    assert r.headers["Expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert r.headers["Content-Language"] == "de-CH"
    assert "Content-Encoding" not in r.headers


def test_oversized_standard_headers_are_refused(store, s3):
    s3.create_bucket(Bucket="hdr")
    # 8192 bytes together are kept
    s3.put_object(Bucket="hdr", Key="max", Body=b"x",
                  ContentDisposition="d" * 8000, CacheControl="c" * 192)
    h = s3.head_object(Bucket="hdr", Key="max")
    assert h["ContentDisposition"] == "d" * 8000
    assert h["CacheControl"] == "c" * 192
    for call in (
            lambda: s3.put_object(Bucket="hdr", Key="big", Body=b"x",
                                  ContentDisposition="d" * 8000,
                                  CacheControl="c" * 193),
            lambda: s3.create_multipart_upload(Bucket="hdr", Key="big",
                                               CacheControl="c" * 9000)):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == "RequestHeaderSectionTooLarge"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "8192 bytes" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket="hdr", Key="big")
    assert s3.list_multipart_uploads(Bucket="hdr").get("Uploads", []) == []


def test_unsupported_subresources_never_act_as_the_plain_operation(
        store, s3, dev_pki):
    s3.create_bucket(Bucket="sub-bucket")
    s3.put_object(Bucket="sub-bucket", Key="k", Body=b"x")
    for call in (lambda: s3.put_bucket_tagging(
                     Bucket="sub-bucket",
                     Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
                 lambda: s3.delete_bucket_tagging(Bucket="sub-bucket"),
                 lambda: s3.put_object_tagging(
                     Bucket="sub-bucket", Key="k",
                     Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
                 lambda: s3.delete_object_tagging(Bucket="sub-bucket",
                                                  Key="k"),
                 lambda: s3.put_bucket_versioning(
                     Bucket="sub-bucket",
                     VersioningConfiguration={"Status": "Enabled"}),
                 lambda: s3.put_object_acl(Bucket="sub-bucket", Key="k",
                                           ACL="public-read")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == "NotImplemented"
    assert s3.get_object_tagging(Bucket="sub-bucket", Key="k")[
        "TagSet"] == []
    assert s3.get_object(Bucket="sub-bucket", Key="k")["Body"].read() == b"x"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [
        "sub-bucket"]
