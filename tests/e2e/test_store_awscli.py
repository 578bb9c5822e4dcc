"""custos store with Debian's aws CLI (/usr/bin/aws)."""
import os
import time

import pytest


@pytest.fixture
def acme(store):
    return store.tenant("acme")


def test_cp_ls_rm_round_trip(store, acme, workdir):
    src = os.path.join(workdir, "src.bin")
    data = os.urandom(5 * 1024 * 1024 + 123)  # under the multipart threshold
    with open(src, "wb") as f:
        f.write(data)
    store.aws(acme, "s3", "mb", "s3://cli-bucket")
    store.aws(acme, "s3", "cp", src, "s3://cli-bucket/dir/file one.bin")
    out = store.aws(acme, "s3", "ls", "s3://cli-bucket/").stdout
    assert "PRE dir/" in out
    out = store.aws(acme, "s3", "ls", "--recursive", "s3://cli-bucket").stdout
    assert "dir/file one.bin" in out and str(len(data)) in out
    dst = os.path.join(workdir, "dst.bin")
    store.aws(acme, "s3", "cp", "s3://cli-bucket/dir/file one.bin", dst)
    with open(dst, "rb") as f:
        assert f.read() == data
    out = store.aws(acme, "s3", "ls").stdout
    assert "cli-bucket" in out
    store.aws(acme, "s3", "rm", "s3://cli-bucket/dir/file one.bin")
    out = store.aws(acme, "s3", "ls", "--recursive", "s3://cli-bucket",
                    check=False).stdout
    assert "file one.bin" not in out
    store.aws(acme, "s3", "rb", "s3://cli-bucket")


def test_s3api_head_and_get_with_range(store, acme, workdir):
    src = os.path.join(workdir, "small.txt")
    with open(src, "wb") as f:
        f.write(b"0123456789" * 10000)
    store.aws(acme, "s3api", "create-bucket", "--bucket", "api-bucket")
    store.aws(acme, "s3api", "put-object", "--bucket", "api-bucket", "--key",
              "t.txt", "--body", src, "--metadata", "k1=v1",
              "--content-type", "text/plain")
    out = store.aws(acme, "s3api", "head-object", "--bucket", "api-bucket",
                    "--key", "t.txt").stdout
    assert '"ContentLength": 100000' in out and '"k1": "v1"' in out
    assert '"ServerSideEncryption": "AES256"' in out
    dst = os.path.join(workdir, "part.txt")
    store.aws(acme, "s3api", "get-object", "--bucket", "api-bucket", "--key",
              "t.txt", "--range", "bytes=65530-65545", dst)
    with open(dst, "rb") as f:
        assert f.read() == (b"0123456789" * 10000)[65530:65546]


def test_sync_uploads_a_tree(store, acme, workdir):
    tree = os.path.join(workdir, "tree")
    os.makedirs(os.path.join(tree, "a", "b"))
    # sync re-uploads a file whose mtime is newer than the listed
    # LastModified; S3 lists whole seconds, so a file written in the same
    # second as its upload would look newer (real S3 alike): date the
    # files a few seconds back, as any file not written just now is.
    past = time.time() - 5
    for p in ("x.txt", "a/y.txt", "a/b/z.txt"):
        with open(os.path.join(tree, p), "w") as f:
            f.write(p)
        os.utime(os.path.join(tree, p), (past, past))
    store.aws(acme, "s3", "mb", "s3://sync-bucket")
    store.aws(acme, "s3", "sync", tree, "s3://sync-bucket/t")
    out = store.aws(acme, "s3", "ls", "--recursive", "s3://sync-bucket").stdout
    for p in ("t/x.txt", "t/a/y.txt", "t/a/b/z.txt"):
        assert p in out
    # a second sync has nothing to do
    out = store.aws(acme, "s3", "sync", tree, "s3://sync-bucket/t").stdout
    assert "upload:" not in out


def test_cp_above_multipart_threshold_round_trips(store, acme, workdir):
    src = os.path.join(workdir, "big.bin")
    data = os.urandom(20 * 1024 * 1024 + 4321)
    with open(src, "wb") as f:
        f.write(data)
    store.aws(acme, "s3", "mb", "s3://big-bucket")
    store.aws(acme, "s3", "cp", src, "s3://big-bucket/big.bin")
    out = store.aws(acme, "s3api", "head-object", "--bucket", "big-bucket",
                    "--key", "big.bin").stdout
    assert f'"ContentLength": {len(data)}' in out
    assert '-3\\""' in out  # a multipart ETag: 8 MiB parts
    dst = os.path.join(workdir, "big.out")
    store.aws(acme, "s3", "cp", "s3://big-bucket/big.bin", dst)
    with open(dst, "rb") as f:
        assert f.read() == data
    # a server-side copy this large is a multipart copy (UploadPartCopy)
    store.aws(acme, "s3", "cp", "s3://big-bucket/big.bin",
              "s3://big-bucket/big-copy.bin")
    store.aws(acme, "s3", "cp", "s3://big-bucket/big-copy.bin", dst)
    with open(dst, "rb") as f:
        assert f.read() == data
    store.aws(acme, "s3", "rm", "--recursive", "s3://big-bucket/")
    store.aws(acme, "s3", "rb", "s3://big-bucket")


def test_cp_between_keys_on_the_server(store, acme, workdir):
    src = os.path.join(workdir, "s.txt")
    with open(src, "w") as f:
        f.write("server side copy")
    store.aws(acme, "s3", "mb", "s3://copy-bucket")
    store.aws(acme, "s3", "cp", src, "s3://copy-bucket/one")
    store.aws(acme, "s3", "cp", "s3://copy-bucket/one", "s3://copy-bucket/two")
    dst = os.path.join(workdir, "d.txt")
    store.aws(acme, "s3", "cp", "s3://copy-bucket/two", dst)
    with open(dst) as f:
        assert f.read() == "server side copy"
