/* SPDX-License-Identifier: BSD-2-Clause */
/* replay.c: a standalone driver that runs a fuzz target's LLVMFuzzerTestOneInput on given files and directories, for builds without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long count;
static int verbose;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	size_t cap = 4096, n = 0;
	uint8_t *d = malloc(cap);
	size_t k;
	while (d && (k = fread(d + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			d = realloc(d, cap *= 2);
	}
	int err = !d || ferror(f);
	fclose(f);
	if (err) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		free(d);
		return 1;
	}
	/* An exactly-sized copy, so ASan catches a read one byte past the input. */
	uint8_t *exact = malloc(n ? n : 1);
	memcpy(exact, d, n);
	free(d);
	if (verbose)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	count++;
	return 0;
}

static int run_path(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(sb.st_mode))
		return run_file(path);
	struct dirent **ents;
	int n = scandir(path, &ents, NULL, alphasort); /* sorted: a failure reproduces in the same order */
	if (n < 0) {
		fprintf(stderr, "replay: cannot read directory '%s': %s\n", path, strerror(errno));
		return 1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			size_t len = strlen(path) + strlen(ents[i]->d_name) + 2;
			char *sub = malloc(len);
			snprintf(sub, len, "%s/%s", path, ents[i]->d_name);
			rc |= run_path(sub);
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	int i = 1, rc = 0;
	if (i < argc && strcmp(argv[i], "-h") == 0) {
		printf("usage: %s [-v] FILE|DIR...\n  runs the fuzz target on every file; -v names each and counts them\n",
		       argv[0]);
		return 0;
	}
	if (i < argc && strcmp(argv[i], "-v") == 0) {
		verbose = 1;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [-v] FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (; i < argc; i++)
		rc |= run_path(argv[i]);
	if (verbose)
		fprintf(stderr, "replay: %lu inputs\n", count);
	return rc;
}
