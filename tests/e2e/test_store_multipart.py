"""custos store: multipart uploads with boto3."""
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def err(e):
    return e.value.response["Error"]["Code"]


def files(store):
    out = []
    for root, _, names in os.walk(os.path.join(store.data, "objects")):
        out += [os.path.join(root, n) for n in names]
    return out


@pytest.fixture
def s3(store):
    t = store.tenant("acme")
    c = store.s3(t)
    c.create_bucket(Bucket="mpu-bucket")
    return c


def upload(s3, key, parts, **kw):
    u = s3.create_multipart_upload(Bucket="mpu-bucket", Key=key, **kw)
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket="mpu-bucket", Key=key, UploadId=u["UploadId"],
                           PartNumber=i, Body=body)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return u["UploadId"], done


def test_multipart_round_trip_with_s3_etag_and_ranges(store, s3):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), os.urandom(1000)]
    uid, done = upload(s3, "big", parts, ContentType="video/mp4",
                       Metadata={"camera": "x100"})
    listed = s3.list_parts(Bucket="mpu-bucket", Key="big", UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]
    assert [p["Size"] for p in listed] == [len(p) for p in parts]
    r = s3.complete_multipart_upload(Bucket="mpu-bucket", Key="big", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    etag = '"%s-3"' % hashlib.md5(md5s).hexdigest()
    assert r["ETag"] == etag
    body = b"".join(parts)
    g = s3.get_object(Bucket="mpu-bucket", Key="big")
    assert g["Body"].read() == body
    assert g["ETag"] == etag
    assert g["ContentType"] == "video/mp4"
    assert g["Metadata"] == {"camera": "x100"}
    # ranges inside a part, across part edges, at the end
    for lo, hi in [(0, 10), (5 * MiB - 3, 5 * MiB + 3),
                   (10 * MiB + 5, 10 * MiB + 9), (len(body) - 1, len(body)),
                   (65530, 10 * MiB + 100)]:
        g = s3.get_object(Bucket="mpu-bucket", Key="big",
                          Range=f"bytes={lo}-{hi - 1}")
        assert g["Body"].read() == body[lo:hi], (lo, hi)
    assert s3.list_objects_v2(Bucket="mpu-bucket")["Contents"][0]["Size"] == \
        len(body)
    s3.delete_object(Bucket="mpu-bucket", Key="big")
    assert files(store) == []


def test_reuploaded_parts_and_unused_parts_leave_no_files(store, s3):
    u = s3.create_multipart_upload(Bucket="mpu-bucket", Key="k")["UploadId"]
    s3.upload_part(Bucket="mpu-bucket", Key="k", UploadId=u, PartNumber=1,
                   Body=b"first try")
    r1 = s3.upload_part(Bucket="mpu-bucket", Key="k", UploadId=u, PartNumber=1,
                        Body=b"second try")
    s3.upload_part(Bucket="mpu-bucket", Key="k", UploadId=u, PartNumber=2,
                   Body=b"not used")
    assert len(files(store)) == 2
    s3.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=u,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": r1["ETag"]}]})
    assert s3.get_object(Bucket="mpu-bucket", Key="k")["Body"].read() == \
        b"second try"
    assert len(files(store)) == 1
    # replacing a multipart object by a simple one removes its directory
    s3.put_object(Bucket="mpu-bucket", Key="k", Body=b"simple")
    assert len(files(store)) == 1
    assert s3.get_object(Bucket="mpu-bucket", Key="k")["Body"].read() == b"simple"


def test_complete_refusals(s3):
    uid, done = upload(s3, "k", [b"small", b"last"])
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert err(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="mpu-bucket", Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1,
                                        "ETag": '"' + "0" * 32 + '"'}]})
    assert err(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket="mpu-bucket", Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 9,
                                        "ETag": done[0]["ETag"]}]})
    assert err(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpu-bucket", Key="other", UploadId=uid,
                                     MultipartUpload={"Parts": done[:1]})
    assert err(e) == "NoSuchUpload"
    # a single small part is a valid object
    s3.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": done[:1]})
    assert s3.get_object(Bucket="mpu-bucket", Key="k")["Body"].read() == b"small"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": done[:1]})
    assert err(e) == "NoSuchUpload"


def test_abort_removes_the_upload(store, s3):
    uid, done = upload(s3, "k", [b"x" * 1000, b"y"])
    assert len(files(store)) == 2
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="mpu-bucket")
    assert err(e) == "BucketNotEmpty"
    s3.abort_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid)
    assert files(store) == []
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpu-bucket", Key="k", UploadId=uid, PartNumber=3,
                       Body=b"z")
    assert err(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="mpu-bucket", Key="k")
    assert err(e) == "NoSuchKey"
    s3.delete_bucket(Bucket="mpu-bucket")


def test_uploads_are_isolated_between_tenants(store, s3):
    uid, done = upload(s3, "k", [b"alpha"])
    other = store.s3(store.tenant("beta"))
    other.create_bucket(Bucket="mpu-bucket")
    with pytest.raises(ClientError) as e:
        other.upload_part(Bucket="mpu-bucket", Key="k", UploadId=uid, PartNumber=1,
                          Body=b"beta")
    assert err(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        other.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid,
                                        MultipartUpload={"Parts": done})
    assert err(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        other.abort_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid)
    assert err(e) == "NoSuchUpload"


@pytest.mark.parametrize("bad_part", ["1", "0", "10001", "x"])
def test_bad_part_numbers(store, s3, bad_part):
    import requests
    u = s3.create_multipart_upload(Bucket="mpu-bucket", Key="k")["UploadId"]
    url = s3.generate_presigned_url(
        "upload_part", Params={"Bucket": "mpu-bucket", "Key": "k", "UploadId": u,
                               "PartNumber": 1})
    url = url.replace("partNumber=1", f"partNumber={bad_part}")
    r = requests.put(url, data=b"x", verify=store.pki.ca)
    if bad_part == "1":
        assert r.status_code == 200, (url, r.text)
    else:
        assert r.status_code in (400, 403), r.text


def test_swapped_parts_do_not_decrypt(store, s3):
    parts = [os.urandom(5 * MiB), os.urandom(100)]
    uid, done = upload(s3, "k", parts)
    s3.complete_multipart_upload(Bucket="mpu-bucket", Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    fs = sorted(files(store), key=os.path.getsize)
    small, big = fs
    with open(small, "rb") as f:
        a = f.read()
    with open(big, "rb") as f:
        b = f.read()
    # give part 2 the first 100 bytes' worth of part 1's shape: copy
    # part 1's header and first segment, truncated to part 2's size
    with open(small, "wb") as f:
        f.write(b[:len(a)])
    with pytest.raises(Exception):
        data = s3.get_object(Bucket="mpu-bucket", Key="k")["Body"].read()
        assert data == b"".join(parts)
        raise AssertionError("served a swapped part")
    # the untouched first part still reads
    g = s3.get_object(Bucket="mpu-bucket", Key="k", Range="bytes=0-99")
    assert g["Body"].read() == parts[0][:100]


def test_list_multipart_uploads(s3):
    a = s3.create_multipart_upload(Bucket="mpu-bucket", Key="a/1")
    b = s3.create_multipart_upload(Bucket="mpu-bucket", Key="b/2")
    r = s3.list_multipart_uploads(Bucket="mpu-bucket")
    assert sorted((u["Key"], u["UploadId"]) for u in r["Uploads"]) == \
        sorted([("a/1", a["UploadId"]), ("b/2", b["UploadId"])])
    r = s3.list_multipart_uploads(Bucket="mpu-bucket", Prefix="b/")
    assert [u["Key"] for u in r["Uploads"]] == ["b/2"]
    r = s3.list_multipart_uploads(Bucket="mpu-bucket", MaxUploads=1)
    assert r["IsTruncated"] and len(r["Uploads"]) == 1
    for u in s3.list_multipart_uploads(Bucket="mpu-bucket")["Uploads"]:
        s3.abort_multipart_upload(Bucket="mpu-bucket", Key=u["Key"],
                                  UploadId=u["UploadId"])
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="mpu-bucket")


def test_upload_part_copy_with_ranges(s3):
    src = os.urandom(6 * MiB + 99)
    s3.put_object(Bucket="mpu-bucket", Key="src", Body=src)
    u = s3.create_multipart_upload(Bucket="mpu-bucket", Key="dst")
    r1 = s3.upload_part_copy(Bucket="mpu-bucket", Key="dst",
                             UploadId=u["UploadId"], PartNumber=1,
                             CopySource={"Bucket": "mpu-bucket",
                                         "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    r2 = s3.upload_part_copy(Bucket="mpu-bucket", Key="dst",
                             UploadId=u["UploadId"], PartNumber=2,
                             CopySource={"Bucket": "mpu-bucket",
                                         "Key": "src"},
                             CopySourceRange=f"bytes={5 * MiB}-"
                                             f"{len(src) - 1}")
    assert r1["CopyPartResult"]["ETag"] == \
        '"%s"' % hashlib.md5(src[:5 * MiB]).hexdigest()
    s3.complete_multipart_upload(
        Bucket="mpu-bucket", Key="dst", UploadId=u["UploadId"],
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="mpu-bucket",
                         Key="dst")["Body"].read() == src
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket="mpu-bucket", Key="dst2",
                            UploadId=u["UploadId"], PartNumber=1,
                            CopySource={"Bucket": "mpu-bucket",
                                        "Key": "src"})
    assert err(e) == "NoSuchUpload"
