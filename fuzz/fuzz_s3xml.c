/* libFuzzer target: the S3 request body parsers and the XML writer.
 *
 * Input: byte 0 picks the parser, the rest is the body. The body is also
 * written as text through the XML writer; when the writer accepts it, the
 * document it makes must parse back (through the Delete parser, as a key)
 * to the same bytes unless it holds characters XML 1.0 cannot carry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/s3xml.h"
#include "store/xmlw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const char *s, size_t n)
{
	cu_xmlw_t *w = NULL;
	struct cu_s3xml_delete *d = NULL;
	char *out = NULL;
	size_t len, ctl = 0;

	if (n == 0 || n > CU_S3XML_MAX_KEY || cu_xmlw_new(0, &w) != 0)
		return;
	cu_xmlw_open(w, "Delete", NULL);
	cu_xmlw_open(w, "Object", NULL);
	cu_xmlw_text(w, "Key", s, n);
	cu_xmlw_close(w);
	cu_xmlw_close(w);
	if (cu_xmlw_finish(w, &out, &len) == 0) {
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)s[i] < 0x20 && s[i] != '\t' &&
			     s[i] != '\n') ||
			    s[i] == '\r')
				ctl = 1;
		if (cu_s3xml_parse_delete(out, len, 0, &d) == 0) {
			if (d->objects[0].key_len != n ||
			    memcmp(d->objects[0].key, s, n) != 0)
				__builtin_trap();
		} else if (!ctl) {
			__builtin_trap();
		}
		cu_s3xml_delete_free(d);
		free(out);
	}
	cu_xmlw_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data + 1;
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0] % 5) {
	case 0: {
		struct cu_s3xml_complete *c = NULL;

		if (cu_s3xml_parse_complete(b, n, 0, &c) == 0) {
			for (size_t i = 1; i < c->n_parts; i++)
				if (c->parts[i].number <=
				    c->parts[i - 1].number)
					__builtin_trap();
		}
		cu_s3xml_complete_free(c);
		break;
	}
	case 1: {
		struct cu_s3xml_delete *d = NULL;

		if (cu_s3xml_parse_delete(b, n, 0, &d) == 0 &&
		    (d->n_objects == 0 || d->n_objects > CU_S3XML_MAX_OBJECTS))
			__builtin_trap();
		cu_s3xml_delete_free(d);
		break;
	}
	case 2: {
		struct cu_s3xml_bucket_config *c = NULL;

		(void)cu_s3xml_parse_create_bucket(b, n, &c);
		cu_s3xml_bucket_config_free(c);
		break;
	}
	case 3: {
		struct cu_s3xml_sse *s = NULL;

		if (cu_s3xml_parse_sse(b, n, &s) == 0 && s->algorithm == NULL)
			__builtin_trap();
		cu_s3xml_sse_free(s);
		break;
	}
	default:
		roundtrip(b, n);
		break;
	}
	return 0;
}
