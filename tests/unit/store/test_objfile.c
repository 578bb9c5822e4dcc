/* Unit tests for store/objfile: object versions on disk, streamed in,
 * read back at random, and refused when altered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto/rand.h"
#include "core/err.h"
#include "core/log.h"
#include "store/objfile.h"

#define SEG CU_SEG_SEGMENT_SIZE

static const unsigned char dek[32] = {7, 7, 7};
static const char wrapped[] = "wrapped-dek-stand-in";
static const char id[] = "tenant|bucket|key|version";

struct fx {
	char dir[64];
};

static int dek_cb(void *arg, const struct cu_seg_header *h,
                  unsigned char out[CU_SEG_DEK_LEN])
{
	(void)arg;
	if (h->wrapped_dek_len != sizeof(wrapped) - 1 ||
	    memcmp(h->wrapped_dek, wrapped, h->wrapped_dek_len) != 0)
		return CU_ERR_AUTH;
	memcpy(out, dek, 32);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	cu_log_init("test", CU_LOG_ERROR + 1, 2);
	snprintf(f->dir, sizeof(f->dir), "/tmp/custos-test-obj-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Write size random bytes as version vid, in uneven pieces. */
static unsigned char *write_obj(struct fx *f, const char *vid, size_t size,
                                char *rel, size_t cap)
{
	unsigned char *data = malloc(size ? size : 1), md5[16];
	cu_sobj_writer_t *w = NULL;
	uint64_t got = 0;
	size_t off = 0, step = 1;

	assert_non_null(data);
	assert_int_equal(cu_rand_bytes(data, size ? size : 1), 0);
	assert_int_equal(cu_sobj_writer_new(f->dir, "tabc", vid, dek, 1,
	                                    wrapped, sizeof(wrapped) - 1, id,
	                                    sizeof(id) - 1, &w),
	                 0);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		assert_int_equal(cu_sobj_writer_update(w, data + off, n), 0);
		off += n;
		step = step * 3 + 1;
	}
	assert_int_equal(cu_sobj_writer_finish(w, md5, &got), 0);
	assert_int_equal(got, size);
	snprintf(rel, cap, "%s", cu_sobj_writer_path(w));
	cu_sobj_writer_keep(w);
	cu_sobj_writer_free(w);
	return data;
}

static void random_access_reads_match(void **state)
{
	struct fx *f = *state;
	/* buffers are sized for the largest segment: small objects too */
	static const size_t sizes[] = {0,       1,   100,     4096,
	                               SEG - 1, SEG, SEG + 1, 3 * SEG + 5};
	char rel[256], vid[40];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i];
		cu_sobj_reader_t *r = NULL;
		unsigned char *data, *buf = malloc(size + 1);
		size_t got;

		snprintf(vid, sizeof(vid), "ab%02zu", i);
		data = write_obj(f, vid, size, rel, sizeof(rel));
		assert_string_equal(rel + strlen(rel) - strlen(vid), vid);
		assert_int_equal(cu_sobj_reader_open(f->dir, rel, size, id,
		                                     sizeof(id) - 1, dek_cb,
		                                     NULL, &r),
		                 0);
		/* whole, in whatever pieces read gives */
		for (size_t off = 0; off < size; off += got) {
			assert_int_equal(cu_sobj_reader_read(r, off, buf + off,
			                                     size - off, &got),
			                 0);
			assert_true(got > 0);
		}
		if (size > 0)
			assert_memory_equal(buf, data, size);
		/* a read across a segment edge */
		if (size > SEG + 1) {
			assert_int_equal(
			    cu_sobj_reader_read(r, SEG - 1, buf, 2, &got), 0);
			assert_int_equal(got, 1);
			assert_int_equal(buf[0], data[SEG - 1]);
			assert_int_equal(
			    cu_sobj_reader_read(r, SEG, buf, 2, &got), 0);
			assert_memory_equal(buf, data + SEG, 2);
		}
		assert_int_equal(cu_sobj_reader_read(r, size, buf, 1, &got), 0);
		assert_int_equal(got, 0);
		assert_int_equal(cu_sobj_reader_read(r, size + 1, buf, 1, &got),
		                 CU_ERR_RANGE);
		cu_sobj_reader_free(r);
		free(data);
		free(buf);
	}
}

static void an_unkept_writer_leaves_no_file(void **state)
{
	struct fx *f = *state;
	cu_sobj_writer_t *w = NULL;
	char p[256];
	struct stat sb;

	assert_int_equal(cu_sobj_writer_new(f->dir, "tabc", "cd01", dek, 1,
	                                    wrapped, sizeof(wrapped) - 1, id,
	                                    sizeof(id) - 1, &w),
	                 0);
	assert_int_equal(cu_sobj_writer_update(w, "abc", 3), 0);
	snprintf(p, sizeof(p), "%s/%s", f->dir, cu_sobj_writer_path(w));
	assert_int_equal(stat(p, &sb), 0);
	cu_sobj_writer_free(w);
	assert_int_not_equal(stat(p, &sb), 0);
	/* bad names never reach the file system */
	assert_int_equal(cu_sobj_writer_new(f->dir, "../x", "cd01", dek, 1,
	                                    wrapped, 5, id, 3, &w),
	                 CU_ERR_INVAL);
	assert_int_equal(cu_sobj_writer_new(f->dir, "tabc", "../../x", dek, 1,
	                                    wrapped, 5, id, 3, &w),
	                 CU_ERR_INVAL);
	cu_sobj_writer_free(NULL);
	cu_sobj_reader_free(NULL);
}

static void flip(const char *path, long off)
{
	FILE *fp = fopen(path, "r+b");
	int c;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, off, off < 0 ? SEEK_END : SEEK_SET), 0);
	c = fgetc(fp);
	assert_int_equal(fseek(fp, -1, SEEK_CUR), 0);
	fputc(c ^ 0x01, fp);
	fclose(fp);
}

static void altered_files_are_refused(void **state)
{
	struct fx *f = *state;
	static const long offsets[] = {0, 6, 20, 60, 100, 200 + SEG, -1};
	char rel[256], vid[16], p[512];
	unsigned char buf[2 * SEG];

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		cu_sobj_reader_t *r = NULL;
		unsigned char *data;
		size_t got, total = 0;
		int rc;

		snprintf(vid, sizeof(vid), "ef%02zu", i);
		data = write_obj(f, vid, 2 * SEG + 3, rel, sizeof(rel));
		snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
		flip(p, offsets[i]);
		rc = cu_sobj_reader_open(f->dir, rel, 2 * SEG + 3, id,
		                         sizeof(id) - 1, dek_cb, NULL, &r);
		while (rc == 0 && total < 2 * SEG + 3) {
			rc = cu_sobj_reader_read(r, total, buf,
			                         sizeof(buf) <
			                                 2 * SEG + 3 - total
			                             ? sizeof(buf)
			                             : 2 * SEG + 3 - total,
			                         &got);
			if (rc == 0)
				assert_memory_equal(buf, data + total, got);
			total += got;
		}
		assert_int_not_equal(rc, 0);
		cu_sobj_reader_free(r);
		free(data);
	}
}

/* Objects of one segment are read whole at open: a file one byte short
 * or one byte long is refused there, an altered byte when read. */
static void one_segment_objects_are_checked_whole(void **state)
{
	struct fx *f = *state;
	static const size_t sizes[] = {0, 100, 4096, SEG};
	char rel[256], vid[16], p[512];
	unsigned char buf[SEG];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i], got = 0;
		cu_sobj_reader_t *r = NULL;
		unsigned char *data;
		struct stat sb;
		FILE *fp;
		int last;

		snprintf(vid, sizeof(vid), "0e%02zu", i);
		data = write_obj(f, vid, size, rel, sizeof(rel));
		snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
		assert_int_equal(stat(p, &sb), 0);
		assert_non_null(fp = fopen(p, "rb"));
		assert_int_equal(fseek(fp, -1, SEEK_END), 0);
		last = fgetc(fp);
		fclose(fp);
		/* one byte long */
		assert_non_null(fp = fopen(p, "ab"));
		fputc(0, fp);
		fclose(fp);
		assert_int_equal(cu_sobj_reader_open(f->dir, rel, size, id,
		                                     sizeof(id) - 1, dek_cb,
		                                     NULL, &r),
		                 CU_ERR_AUTH);
		/* one byte short */
		assert_int_equal(truncate(p, sb.st_size - 1), 0);
		assert_int_equal(cu_sobj_reader_open(f->dir, rel, size, id,
		                                     sizeof(id) - 1, dek_cb,
		                                     NULL, &r),
		                 CU_ERR_AUTH);
		/* the right size, the last byte (the tag's) altered */
		assert_non_null(fp = fopen(p, "ab"));
		fputc(last ^ 0xff, fp);
		fclose(fp);
		assert_int_equal(cu_sobj_reader_open(f->dir, rel, size, id,
		                                     sizeof(id) - 1, dek_cb,
		                                     NULL, &r),
		                 0);
		if (size > 0)
			assert_int_equal(
			    cu_sobj_reader_read(r, 0, buf, sizeof(buf), &got),
			    CU_ERR_AUTH);
		cu_sobj_reader_free(r);
		free(data);
	}
}

/* A one-entry stand-in for the store's subkey cache (store/keys.c). */
struct fake_sk {
	unsigned char digest[CU_SOBJ_DIGEST_LEN], subkey[CU_SEG_SUBKEY_LEN];
	int have, gets, hits, puts, deks;
};

static int sk_get(void *arg, const struct cu_seg_header *h,
                  const unsigned char digest[CU_SOBJ_DIGEST_LEN],
                  unsigned char subkey[CU_SEG_SUBKEY_LEN])
{
	struct fake_sk *c = arg;

	(void)h;
	c->gets++;
	if (!c->have || memcmp(c->digest, digest, sizeof(c->digest)) != 0)
		return CU_ERR_NOTFOUND;
	c->hits++;
	memcpy(subkey, c->subkey, sizeof(c->subkey));
	return 0;
}

static void sk_put(void *arg, const struct cu_seg_header *h,
                   const unsigned char digest[CU_SOBJ_DIGEST_LEN],
                   const unsigned char subkey[CU_SEG_SUBKEY_LEN])
{
	struct fake_sk *c = arg;

	(void)h;
	c->puts++;
	c->have = 1;
	memcpy(c->digest, digest, sizeof(c->digest));
	memcpy(c->subkey, subkey, sizeof(c->subkey));
}

static int counting_dek_cb(void *arg, const struct cu_seg_header *h,
                           unsigned char out[CU_SEG_DEK_LEN])
{
	((struct fake_sk *)arg)->deks++;
	return dek_cb(NULL, h, out);
}

/* Read the whole object; 0 when every byte matched, else the error. */
static int read_all(cu_sobj_reader_t *r, const unsigned char *data, size_t size)
{
	unsigned char buf[SEG];
	size_t got = 0;
	int rc = 0;

	for (size_t off = 0; rc == 0 && off < size; off += got) {
		rc = cu_sobj_reader_read(r, off, buf, sizeof(buf), &got);
		if (rc == 0 && memcmp(buf, data + off, got) != 0)
			return CU_ERR_INTERNAL;
	}
	return rc;
}

static int open_cached(struct fx *f, const char *rel, size_t size,
                       const char *oid, size_t oid_len, struct fake_sk *c,
                       cu_sobj_reader_t **r)
{
	struct cu_sobj_subkeys sk = {sk_get, sk_put, c};

	return cu_sobj_reader_open_cached(f->dir, rel, size, oid, oid_len,
	                                  counting_dek_cb, c, &sk, r);
}

/* Open cached, read the whole object: 0 or the first error. */
static int open_read(struct fx *f, const char *rel, const unsigned char *data,
                     size_t size, struct fake_sk *c)
{
	cu_sobj_reader_t *r = NULL;
	int rc = open_cached(f, rel, size, id, sizeof(id) - 1, c, &r);

	if (rc == 0)
		rc = read_all(r, data, size);
	cu_sobj_reader_free(r);
	return rc;
}

static void
kept_subkeys_open_without_the_dek_and_still_catch_tampering(void **state)
{
	struct fx *f = *state;
	struct fake_sk c = {0};
	cu_sobj_reader_t *r = NULL;
	const size_t size = 2 * SEG + 3;
	unsigned char *data;
	char rel[256], p[512];

	data = write_obj(f, "5c01", size, rel, sizeof(rel));
	/* first open: the DEK, and the subkey is kept */
	assert_int_equal(open_read(f, rel, data, size, &c), 0);
	assert_int_equal(c.deks, 1);
	assert_int_equal(c.puts, 1);
	/* again: from the kept subkey, no DEK, the same bytes */
	assert_int_equal(open_read(f, rel, data, size, &c), 0);
	assert_int_equal(c.deks, 1);
	assert_int_equal(c.hits, 1);
	/* another identity for the same file: not the kept subkey, refused */
	assert_int_equal(open_cached(f, rel, size, "other", 5, &c, &r),
	                 CU_ERR_AUTH);
	assert_int_equal(c.hits, 1);
	/* a wrong subkey (a corrupt cache) opens, but no segment decrypts */
	c.subkey[0] ^= 1;
	assert_int_equal(open_read(f, rel, data, size, &c), CU_ERR_AUTH);
	c.subkey[0] ^= 1;
	/* an altered segment under a kept subkey: refused, never wrong bytes */
	snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
	flip(p, 200 + SEG);
	c.deks = 0;
	assert_int_equal(open_read(f, rel, data, size, &c), CU_ERR_AUTH);
	assert_int_equal(c.deks, 0); /* it was the kept subkey */
	flip(p, 200 + SEG);
	/* an altered header misses the kept subkey and fails the DEK's check */
	flip(p, 60);
	c.hits = c.deks = 0;
	assert_int_equal(open_cached(f, rel, size, id, sizeof(id) - 1, &c, &r),
	                 CU_ERR_AUTH);
	assert_int_equal(c.hits, 0);
	assert_int_equal(c.deks, 1);
	free(data);
}

static void wrong_identity_or_size_is_refused(void **state)
{
	struct fx *f = *state;
	cu_sobj_reader_t *r = NULL;
	unsigned char *data;
	char rel[256];

	data = write_obj(f, "0a0b", 1000, rel, sizeof(rel));
	assert_int_equal(cu_sobj_reader_open(f->dir, rel, 1000, "other", 5,
	                                     dek_cb, NULL, &r),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_sobj_reader_open(f->dir, rel, 999, id,
	                                     sizeof(id) - 1, dek_cb, NULL, &r),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_sobj_reader_open(f->dir, "objects/none", 1, id,
	                                     sizeof(id) - 1, dek_cb, NULL, &r),
	                 CU_ERR_NOTFOUND);
	assert_int_equal(cu_sobj_remove(f->dir, rel), 0);
	assert_int_equal(cu_sobj_remove(f->dir, rel), 0);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(random_access_reads_match, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(an_unkept_writer_leaves_no_file,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(altered_files_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        one_segment_objects_are_checked_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        kept_subkeys_open_without_the_dek_and_still_catch_tampering,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(wrong_identity_or_size_is_refused,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
