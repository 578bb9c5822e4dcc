"""custos store: bad request bodies and SigV2 presigned URLs refused with
S3's errors, nothing changed."""
import time

import requests


def signed(store, t, method, path, body=b""):
    """A raw SigV4-signed request (requests.Response)."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    creds = botocore.credentials.Credentials(t["access_key_id"],
                                             t["secret_access_key"])
    req = botocore.awsrequest.AWSRequest(method=method, url=store.url + path,
                                         data=body)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return requests.request(method, req.url, data=body,
                            headers=dict(req.headers), verify=store.pki.ca,
                            timeout=30)


BAD_XML = (b"<CompleteMultipartUpload><Part>",
           b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", b"junk")


def test_malformed_complete_multipart_xml_is_refused(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    up = s3.create_multipart_upload(Bucket="data", Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket="data", Key="mp", UploadId=up, PartNumber=1,
                          Body=b"p" * 1024)["ETag"]
    for body in BAD_XML:
        r = signed(store, t, "POST", f"/data/mp?uploadId={up}", body)
        assert r.status_code == 400, r.text
        assert b"<Code>MalformedXML</Code>" in r.content
        assert r.headers.get("x-amz-request-id")
    # the upload is untouched: its part is listed and it completes
    parts = s3.list_parts(Bucket="data", Key="mp", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    s3.complete_multipart_upload(
        Bucket="data", Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="data", Key="mp")["Body"].read() == \
        b"p" * 1024


def test_malformed_bucket_encryption_xml_is_refused(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    before = s3.get_bucket_encryption(Bucket="data")[
        "ServerSideEncryptionConfiguration"]
    for body in BAD_XML:
        r = signed(store, t, "PUT", "/data?encryption", body)
        assert r.status_code == 400, r.text
        assert b"<Code>MalformedXML</Code>" in r.content
    assert s3.get_bucket_encryption(Bucket="data")[
        "ServerSideEncryptionConfiguration"] == before


def v2_client(store, t):
    """boto3 signing with SigV2 (`s3`), as Debian's boto3 1.26 and s3cmd
    presign by default."""
    import boto3
    import botocore.config
    return boto3.client(
        "s3", endpoint_url=store.url, verify=store.pki.ca,
        region_name="us-east-1", aws_access_key_id=t["access_key_id"],
        aws_secret_access_key=t["secret_access_key"],
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      signature_version="s3"))


def test_sigv2_presigned_url_expires_and_is_bound_to_its_signature(store):
    t = store.tenant("acme")
    s3 = store.s3(t)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="k", Body=b"secret bytes")
    v2 = v2_client(store, t)
    url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "k"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in url and "Expires=" in url
    r = requests.get(url, verify=store.pki.ca, timeout=30)
    assert r.status_code == 200 and r.content == b"secret bytes"
    # the signature covers the key: the same query on another key fails
    other = url.replace("/data/k?", "/data/k2?")
    r = requests.get(other, verify=store.pki.ca, timeout=30)
    assert r.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in r.content
    # and the expiry: a later Expires with the old signature fails
    exp = int(url.split("Expires=")[1].split("&")[0])
    later = url.replace(f"Expires={exp}", f"Expires={exp + 3600}")
    r = requests.get(later, verify=store.pki.ca, timeout=30)
    assert r.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in r.content
    # once expired, refused
    short = v2.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    r = requests.get(short, verify=store.pki.ca, timeout=30)
    assert r.status_code == 403
    assert b"<Code>AccessDenied</Code>" in r.content
    assert b"secret bytes" not in r.content
