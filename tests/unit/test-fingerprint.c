/*
 * test-fingerprint.c: Parsing Canonical Form and CRC-64-AVRO against
 * values computed elsewhere, never by this code.
 *
 * Schemas are written with ' for " to stay readable; dq() turns them
 * back.  Fingerprints are signed 64-bit decimals, as Java prints them.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fingerprint.h"
#include "lib/util.h"
#include "check.h"

struct vector {
	const char	*schema;
	const char	*canonical;
	int64_t		 fp;
};

/*
 * The Avro project's own vectors: share/test/data/schema-tests.txt in
 * apache/avro (commit 0ea74a36cebb2e5fbc37e599814a05c33cb7d424), cases
 * 000 to 033 in order, input text as given there.  A case that lists no
 * fingerprint (001, 003, ...) has the canonical form of the case before
 * it, whose fingerprint is repeated here.
 */
static const struct vector avro_tests[] = {
	{ "'null'", "'null'", 7195948357588979594LL },
	{ "{'type':'null'}", "'null'", 7195948357588979594LL },
	{ "'boolean'", "'boolean'", -6970731678124411036LL },
	{ "{'type':'boolean'}", "'boolean'", -6970731678124411036LL },
	{ "'int'", "'int'", 8247732601305521295LL },
	{ "{'type':'int'}", "'int'", 8247732601305521295LL },
	{ "'long'", "'long'", -3434872931120570953LL },
	{ "{'type':'long'}", "'long'", -3434872931120570953LL },
	{ "'float'", "'float'", 5583340709985441680LL },
	{ "{'type':'float'}", "'float'", 5583340709985441680LL },
	{ "'double'", "'double'", -8181574048448539266LL },
	{ "{'type':'double'}", "'double'", -8181574048448539266LL },
	{ "'bytes'", "'bytes'", 5746618253357095269LL },
	{ "{'type':'bytes'}", "'bytes'", 5746618253357095269LL },
	{ "'string'", "'string'", -8142146995180207161LL },
	{ "{'type':'string'}", "'string'", -8142146995180207161LL },
	{ "[  ]", "[]", -1241056759729112623LL },
	{ "[ 'int'  ]", "['int']", -5232228896498058493LL },
	{ "[ 'int' , {'type':'boolean'} ]", "['int','boolean']",
	    5392556393470105090LL },
	{ "{'fields':[], 'type':'record', 'name':'foo'}",
	    "{'name':'foo','type':'record','fields':[]}",
	    -4824392279771201922LL },
	{ "{'fields':[], 'type':'record', 'name':'foo', 'namespace':'x.y'}",
	    "{'name':'x.y.foo','type':'record','fields':[]}",
	    5916914534497305771LL },
	{ "{'fields':[], 'type':'record', 'name':'a.b.foo', "
	    "'namespace':'x.y'}",
	    "{'name':'a.b.foo','type':'record','fields':[]}",
	    -4616218487480524110LL },
	{ "{'fields':[], 'type':'record', 'name':'foo', 'doc':'Useful info'}",
	    "{'name':'foo','type':'record','fields':[]}",
	    -4824392279771201922LL },
	{ "{'fields':[], 'type':'record', 'name':'foo', "
	    "'aliases':['foo','bar']}",
	    "{'name':'foo','type':'record','fields':[]}",
	    -4824392279771201922LL },
	{ "{'fields':[], 'type':'record', 'name':'foo', 'doc':'foo', "
	    "'aliases':['foo','bar']}",
	    "{'name':'foo','type':'record','fields':[]}",
	    -4824392279771201922LL },
	{ "{'fields':[{'type':{'type':'boolean'}, 'name':'f1'}], "
	    "'type':'record', 'name':'foo'}",
	    "{'name':'foo','type':'record','fields':[{'name':'f1',"
	    "'type':'boolean'}]}",
	    7843277075252814651LL },
	{ "{ 'fields':[{'type':'boolean', 'aliases':[], 'name':'f1', "
	    "'default':'true'},\n"
	    "            {'order':'descending','name':'f2','doc':'Hello',"
	    "'type':'int'}],\n"
	    "  'type':'record', 'name':'foo'\n"
	    "}\n",
	    "{'name':'foo','type':'record','fields':[{'name':'f1',"
	    "'type':'boolean'},{'name':'f2','type':'int'}]}",
	    -4860222112080293046LL },
	{ "{'type':'enum', 'name':'foo', 'symbols':['A1']}",
	    "{'name':'foo','type':'enum','symbols':['A1']}",
	    -6342190197741309591LL },
	{ "{'namespace':'x.y.z', 'type':'enum', 'name':'foo', "
	    "'doc':'foo bar', 'symbols':['A1', 'A2']}",
	    "{'name':'x.y.z.foo','type':'enum','symbols':['A1','A2']}",
	    -4448647247586288245LL },
	{ "{'name':'foo','type':'fixed','size':15}",
	    "{'name':'foo','type':'fixed','size':15}",
	    1756455273707447556LL },
	{ "{'namespace':'x.y.z', 'type':'fixed', 'name':'foo', "
	    "'doc':'foo bar', 'size':32}",
	    "{'name':'x.y.z.foo','type':'fixed','size':32}",
	    -3064184465700546786LL },
	{ "{ 'items':{'type':'null'}, 'type':'array'}",
	    "{'type':'array','items':'null'}",
	    -589620603366471059LL },
	{ "{ 'values':'string', 'type':'map'}",
	    "{'type':'map','values':'string'}",
	    -8732877298790414990LL },
	{ "  {'name':'PigValue','type':'record',\n"
	    "   'fields':[{'name':'value', 'type':['null', 'int', 'long', "
	    "'PigValue']}]}\n",
	    "{'name':'PigValue','type':'record','fields':[{'name':'value',"
	    "'type':['null','int','long','PigValue']}]}",
	    -1759257747318642341LL },
};

/*
 * Canonical forms from the Avro project's Python tests
 * (lang/py/avro/test/test_schema.py, CanonicalFormTestCase, as Debian's
 * python3-avro 1.11.1 ships it); fingerprints from Java's
 * org.apache.avro.SchemaNormalization.parsingFingerprint64 (Debian's
 * libavro-java 1.8.2).  For HandshakeRequest that Python test expects
 * MD5 written out twice, against the specification; the canonical form
 * here is Java's, which names MD5 the second time.
 */
static const struct vector py_tests[] = {
	{ "{'type':'record','name':'HandshakeRequest',"
	    "'namespace':'org.apache.avro.ipc','fields':["
	    "{'name':'clientHash','type':{'type':'fixed','name':'MD5',"
	    "'size':16}},{'name':'clientProtocol','type':['null','string']},"
	    "{'name':'serverHash','type':'MD5'},"
	    "{'name':'meta','type':['null',{'type':'map','values':'bytes'}]}]}",
	    "{'name':'org.apache.avro.ipc.HandshakeRequest','type':'record',"
	    "'fields':[{'name':'clientHash','type':{"
	    "'name':'org.apache.avro.ipc.MD5','type':'fixed','size':16}},"
	    "{'name':'clientProtocol','type':['null','string']},"
	    "{'name':'serverHash','type':'org.apache.avro.ipc.MD5'},"
	    "{'name':'meta','type':['null',{'type':'map','values':'bytes'}]}]}",
	    6293635732927376057LL },
	{ "{'type':'record','name':'HandshakeResponse',"
	    "'namespace':'org.apache.avro.ipc','fields':["
	    "{'name':'match','type':{'type':'enum','name':'HandshakeMatch',"
	    "'symbols':['BOTH','CLIENT','NONE']}},"
	    "{'name':'serverProtocol','type':['null','string']},"
	    "{'name':'serverHash','type':["
	    "'null',{'name':'MD5','size':16,'type':'fixed'}]},"
	    "{'name':'meta','type':['null',{'type':'map','values':'bytes'}]}]}",
	    "{'name':'org.apache.avro.ipc.HandshakeResponse','type':'record',"
	    "'fields':[{'name':'match','type':{"
	    "'name':'org.apache.avro.ipc.HandshakeMatch',"
	    "'type':'enum','symbols':['BOTH','CLIENT','NONE']}},"
	    "{'name':'serverProtocol','type':['null','string']},"
	    "{'name':'serverHash','type':['null',{"
	    "'name':'org.apache.avro.ipc.MD5','type':'fixed','size':16}]},"
	    "{'name':'meta','type':['null',{'type':'map','values':'bytes'}]}]}",
	    1055336403110395392LL },
	{ "{'type':'record','name':'Interop','namespace':'org.apache.avro',"
	    "'fields':[{'name':'intField','type':'int'},"
	    "{'name':'longField','type':'long'},"
	    "{'name':'stringField','type':'string'},"
	    "{'name':'boolField','type':'boolean'},"
	    "{'name':'floatField','type':'float'},"
	    "{'name':'doubleField','type':'double'},"
	    "{'name':'bytesField','type':'bytes'},"
	    "{'name':'nullField','type':'null'},"
	    "{'name':'arrayField','type':{'type':'array','items':'double'}},"
	    "{'name':'mapField','type':{'type':'map','values':{'name':'Foo',"
	    "'type':'record','fields':[{'name':'label','type':'string'}]}}},"
	    "{'name':'unionField','type':['boolean','double',"
	    "{'type':'array','items':'bytes'}]},"
	    "{'name':'enumField','type':{'type':'enum','name':'Kind',"
	    "'symbols':['A','B','C']}},"
	    "{'name':'fixedField','type':{'type':'fixed','name':'MD5',"
	    "'size':16}},"
	    "{'name':'recordField','type':{'type':'record','name':'Node',"
	    "'fields':[{'name':'label','type':'string'},"
	    "{'name':'children','type':{'type':'array','items':'Node'}}]}}]}",
	    "{'name':'org.apache.avro.Interop','type':'record','fields':["
	    "{'name':'intField','type':'int'},"
	    "{'name':'longField','type':'long'},"
	    "{'name':'stringField','type':'string'},"
	    "{'name':'boolField','type':'boolean'},"
	    "{'name':'floatField','type':'float'},"
	    "{'name':'doubleField','type':'double'},"
	    "{'name':'bytesField','type':'bytes'},"
	    "{'name':'nullField','type':'null'},"
	    "{'name':'arrayField','type':{'type':'array','items':'double'}},"
	    "{'name':'mapField','type':{'type':'map','values':{"
	    "'name':'org.apache.avro.Foo','type':'record',"
	    "'fields':[{'name':'label','type':'string'}]}}},"
	    "{'name':'unionField','type':['boolean','double',"
	    "{'type':'array','items':'bytes'}]},"
	    "{'name':'enumField','type':{'name':'org.apache.avro.Kind',"
	    "'type':'enum','symbols':['A','B','C']}},"
	    "{'name':'fixedField','type':{'name':'org.apache.avro.MD5',"
	    "'type':'fixed','size':16}},"
	    "{'name':'recordField','type':{'name':'org.apache.avro.Node',"
	    "'type':'record','fields':[{'name':'label','type':'string'},"
	    "{'name':'children','type':{'type':'array',"
	    "'items':'org.apache.avro.Node'}}]}}]}",
	    -6578175043412808472LL },
	{ "{'name':'\\u0041','type':'fixed','size':16}",
	    "{'name':'A','type':'fixed','size':16}",
	    1405291570974677731LL },
	{ "{'type':'record','name':'Test','doc':'This is a test schema',"
	    "'aliases':['also','known','as'],'fields':["
	    "{'type':{'symbols':['one','two'],'type':'enum',"
	    "'name':'NamedEnum'},"
	    "'name':'thenamedenum','doc':'This is a named enum'},"
	    "{'type':['null','NamedEnum'],'name':'unionwithreftoenum'}]}",
	    "{'name':'Test','type':'record','fields':["
	    "{'name':'thenamedenum','type':{'name':'NamedEnum','type':'enum',"
	    "'symbols':['one','two']}},"
	    "{'name':'unionwithreftoenum','type':['null','NamedEnum']}]}",
	    -5081486788178823789LL },
};

/*
 * Namespaces, references, logical types, escapes: canonical form and
 * fingerprint both from Java's SchemaNormalization (libavro-java 1.8.2).
 * Python's avro 1.11.1 differs on some of these through its own bugs:
 * it writes fixed types out again, keeps {'type':'long'} for logical
 * types, inherits a namespace through namespace '', writes 'error', and
 * refuses non-ASCII names.
 */
static const struct vector java_tests[] = {
	/* Inheritance, a dotted name starting a namespace, references. */
	{ "{'type':'record','name':'Outer','namespace':'a.b','fields':["
	    "{'name':'x','type':{'type':'record','name':'Inner','fields':["
	    "{'name':'y','type':{'type':'enum','name':'E',"
	    "'symbols':['P','Q']}}]}},"
	    "{'name':'z','type':'Inner'},{'name':'w','type':'a.b.E'},"
	    "{'name':'v','type':{'type':'record','name':'c.d.Other','fields':["
	    "{'name':'u','type':{'type':'fixed','name':'F','size':4}},"
	    "{'name':'t','type':'a.b.Inner'}]}},"
	    "{'name':'s','type':'c.d.F'}]}",
	    "{'name':'a.b.Outer','type':'record','fields':["
	    "{'name':'x','type':{'name':'a.b.Inner','type':'record','fields':["
	    "{'name':'y','type':{'name':'a.b.E','type':'enum',"
	    "'symbols':['P','Q']}}]}},"
	    "{'name':'z','type':'a.b.Inner'},{'name':'w','type':'a.b.E'},"
	    "{'name':'v','type':{'name':'c.d.Other','type':'record','fields':["
	    "{'name':'u','type':{'name':'c.d.F','type':'fixed','size':4}},"
	    "{'name':'t','type':'a.b.Inner'}]}},"
	    "{'name':'s','type':'c.d.F'}]}",
	    -3655049549489475299LL },
	/* A namespace attribute inside another; '' is the null namespace. */
	{ "{'type':'record','name':'R','namespace':'n1','fields':["
	    "{'name':'a','type':{'type':'record','name':'S','namespace':'n2',"
	    "'fields':[{'name':'b','type':{'type':'enum','name':'T',"
	    "'symbols':['X']}}]}},"
	    "{'name':'c','type':'n2.T'},"
	    "{'name':'d','type':{'type':'fixed','name':'U','namespace':'',"
	    "'size':1}}]}",
	    "{'name':'n1.R','type':'record','fields':["
	    "{'name':'a','type':{'name':'n2.S','type':'record','fields':["
	    "{'name':'b','type':{'name':'n2.T','type':'enum',"
	    "'symbols':['X']}}]}},"
	    "{'name':'c','type':'n2.T'},"
	    "{'name':'d','type':{'name':'U','type':'fixed','size':1}}]}",
	    -3181824651180527813LL },
	{ "{'type':'record','name':'r','fields':["
	    "{'name':'ts','type':{'type':'long',"
	    "'logicalType':'timestamp-millis'}},"
	    "{'name':'d','type':{'type':'bytes','logicalType':'decimal',"
	    "'precision':4,'scale':2}},"
	    "{'name':'u','type':{'type':'string','logicalType':'uuid'},"
	    "'default':'x'}]}",
	    "{'name':'r','type':'record','fields':["
	    "{'name':'ts','type':'long'},{'name':'d','type':'bytes'},"
	    "{'name':'u','type':'string'}]}",
	    8560658656584186517LL },
	{ "{'type':'record','name':'a\\u00e9','fields':["
	    "{'name':'\\u0066\\u0031','type':{'type':'enum','name':'E',"
	    "'symbols':['\\u0041']}}]}",
	    "{'name':'a\xc3\xa9','type':'record','fields':["
	    "{'name':'f1','type':{'name':'E','type':'enum',"
	    "'symbols':['A']}}]}",
	    1066275845031533400LL },
	{ "{'type':'array','items':{'type':'map','values':['null',"
	    "{'type':'record','name':'x.R','fields':["
	    "{'name':'r','type':['null','x.R']}]}]}}",
	    "{'type':'array','items':{'type':'map','values':['null',"
	    "{'name':'x.R','type':'record','fields':["
	    "{'name':'r','type':['null','x.R']}]}]}}",
	    3178363649577683052LL },
	{ "{'type':'fixed','name':'f','size':0}",
	    "{'name':'f','type':'fixed','size':0}",
	    -894343081456602261LL },
	/* A fixed used three times is written out once. */
	{ "{'type':'record','name':'x','fields':["
	    "{'name':'a','type':{'type':'fixed','name':'md5','size':16}},"
	    "{'name':'b','type':'md5'},"
	    "{'name':'c','type':{'type':'array','items':'md5'}}]}",
	    "{'name':'x','type':'record','fields':["
	    "{'name':'a','type':{'name':'md5','type':'fixed','size':16}},"
	    "{'name':'b','type':'md5'},"
	    "{'name':'c','type':{'type':'array','items':'md5'}}]}",
	    4206827938051548966LL },
	/* Low inherits q from q.Mid, not p from Top. */
	{ "{'type':'record','name':'Top','namespace':'p','fields':["
	    "{'name':'a','type':{'type':'record','name':'q.Mid','fields':["
	    "{'name':'b','type':{'type':'record','name':'Low',"
	    "'fields':[]}}]}},"
	    "{'name':'c','type':'q.Low'}]}",
	    "{'name':'p.Top','type':'record','fields':["
	    "{'name':'a','type':{'name':'q.Mid','type':'record','fields':["
	    "{'name':'b','type':{'name':'q.Low','type':'record',"
	    "'fields':[]}}]}},"
	    "{'name':'c','type':'q.Low'}]}",
	    1059512064979890170LL },
	/* E, in the null namespace, found from inside ns. */
	{ "{'type':'record','name':'Top','fields':["
	    "{'name':'a','type':{'type':'enum','name':'E','symbols':['A']}},"
	    "{'name':'b','type':{'type':'record','name':'R','namespace':'ns',"
	    "'fields':[{'name':'c','type':'E'}]}}]}",
	    "{'name':'Top','type':'record','fields':["
	    "{'name':'a','type':{'name':'E','type':'enum','symbols':['A']}},"
	    "{'name':'b','type':{'name':'ns.R','type':'record','fields':["
	    "{'name':'c','type':'E'}]}}]}",
	    -4966232959452014093LL },
	{ "{'type':'error','name':'Oops','fields':["
	    "{'name':'m','type':'string'}]}",
	    "{'name':'Oops','type':'record','fields':["
	    "{'name':'m','type':'string'}]}",
	    241338428982653067LL },
};

/* Invalid schemas, and what the message must say. */
static const struct {
	const char	*schema;
	const char	*why;
} bad[] = {
	{ "", "line 1, column 0: " },
	{ "'int' x", "line 1, column 7: " },
	/* Found by fuzz-pcf: jansson's message quoted the newline. */
	{ "{'type':'n\\u000\n'}",
	    "line 2, column 0: invalid escape near '\"n\\u000\\x0a'" },
	{ "{'type':'int','type':'long'}", "duplicate object key" },
	{ "17", "not a schema: a JSON number" },
	{ "{'name':'x'}", "missing type" },
	{ "{'type':'nosuch'}", "unknown type \"nosuch\"" },
	{ "{'type':'array'}", "array: missing items" },
	{ "{'type':'map','values':'Nope'}",
	    "map values: unknown type \"Nope\"" },
	{ "['int','int']", "union branch 2: duplicate \"int\"" },
	{ "['int',['null']]", "union branch 2: nested union" },
	{ "['Later',{'type':'fixed','name':'Later','size':1}]",
	    "union branch 1: unknown type \"Later\"" },
	{ "{'type':'record','name':'r','fields':[{'name':'a','type':'int'},"
	    "{'name':'b','type':'int'},{'type':'int'}]}",
	    "record r: field 3: missing name" },
	{ "{'type':'record','name':'r','fields':[{'name':'f'}]}",
	    "record r: field 1: missing type" },
	{ "{'type':'record','name':'r','fields':[{'name':'a','type':'int'},"
	    "{'name':'a','type':'long'}]}",
	    "record r: field 2: duplicate name \"a\"" },
	{ "{'type':'record','name':'r','fields':[{'name':'a','type':"
	    "{'type':'array','items':['null',{'type':'map','values':'X'}]}}]}",
	    "record r: field 1: array items: union branch 2: map values: "
	    "unknown type \"X\"" },
	{ "{'type':'record','name':'r','fields':[{'name':'a','type':"
	    "{'type':'record','name':'r','fields':[]}}]}",
	    "record r: field 1: redefinition of \"r\"" },
	{ "{'type':'record','name':'r'}", "record r: missing fields" },
	{ "{'type':'record','name':'int','fields':[]}",
	    "primitive type name \"int\"" },
	{ "{'type':'record','name':'a-b','fields':[]}",
	    "invalid name \"a-b\"" },
	{ "{'type':'record','name':'x..y','fields':[]}",
	    "invalid name \"x..y\"" },
	{ "{'type':'record','fields':[]}", "record: missing name" },
	{ "{'type':'enum','name':'e','symbols':['A','A']}",
	    "enum e: symbol 2: duplicate \"A\"" },
	{ "{'type':'enum','name':'e','symbols':['1a']}",
	    "enum e: symbol 1: invalid name \"1a\"" },
	{ "{'type':'enum','name':'e','symbols':['A\\u0000']}",
	    "enum e: symbol 1: invalid name \"A\\x00\"" },
	{ "{'type':'fixed','name':'f','size':-1}",
	    "fixed f: size out of range" },
	{ "{'type':'fixed','name':'f','size':2147483648}",
	    "fixed f: size out of range" },
	{ "{'type':'fixed','name':'f','size':'1x'}",
	    "fixed f: size is not an integer" },
	{ "{'type':'fixed','name':'f','size':1.5}",
	    "fixed f: size is not an integer" },
};

static char *
dq(const char *s)
{
	char *t, *p;

	t = estrdup(s);
	for (p = t; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

static void
check_vectors(const char *set, const struct vector *v, size_t n)
{
	char *schema, *want, *got, *why;
	uint64_t fp;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		schema = dq(v[i].schema);
		want = dq(v[i].canonical);
		got = schema_canonical(schema, strlen(schema), &why);
		if (got == NULL)
			printf("# %s\n", why);
		else if (strcmp(got, want) != 0)
			printf("# got  %s\n# want %s\n", got, want);
		CHECK(got != NULL && strcmp(got, want) == 0 && why == NULL,
		    "%s %zu: canonical form", set, i);
		free(got);
		free(why);

		fp = 0;
		rc = schema_fingerprint(schema, strlen(schema), &fp, &why);
		if (rc == 0 && (int64_t)fp != v[i].fp)
			printf("# got %" PRId64 "\n", (int64_t)fp);
		CHECK(rc == 0 && (int64_t)fp == v[i].fp,
		    "%s %zu: fingerprint %" PRId64, set, i, v[i].fp);
		free(why);
		free(schema);
		free(want);
	}
}

static void
check_bad(void)
{
	char *schema, *got, *why;
	uint64_t fp;
	size_t i;
	int rc;

	for (i = 0; i < NELEM(bad); i++) {
		schema = dq(bad[i].schema);
		got = schema_canonical(schema, strlen(schema), &why);
		if (why != NULL && strstr(why, bad[i].why) == NULL)
			printf("# got \"%s\"\n", why);
		CHECK(got == NULL && why != NULL &&
		    strstr(why, bad[i].why) != NULL &&
		    strchr(why, '\n') == NULL,
		    "bad %zu: %s", i, bad[i].why);
		free(got);
		free(why);

		fp = 42;
		rc = schema_fingerprint(schema, strlen(schema), &fp, &why);
		CHECK(rc == -1 && why != NULL && fp == 42,
		    "bad %zu: no fingerprint", i);
		free(why);
		free(schema);
	}
}

int
main(void)
{
	const char *quoted =
	    "{\"type\":\"fixed\", \"name\":\"foo\", \"size\":\"015\"}";
	char *got, *why;
	uint64_t fp;

	/* The specification's fingerprint64() starts from EMPTY. */
	CHECK(crc64_avro("", 0) == 0xc15d213aa4d7a795ULL, "crc64 of nothing");
	/* schema-tests.txt case 000. */
	CHECK((int64_t)crc64_avro("\"null\"", 6) == 7195948357588979594LL,
	    "crc64 of \"null\"");

	check_vectors("schema-tests.txt", avro_tests, NELEM(avro_tests));
	check_vectors("test_schema.py", py_tests, NELEM(py_tests));
	check_vectors("java", java_tests, NELEM(java_tests));
	check_bad();

	/*
	 * INTEGERS: quotes and leading zeros go.  This is the input that
	 * schema-tests.txt case 029 leaves commented out, in the quoted
	 * form; the expected values are those of case 029.
	 */
	got = schema_canonical(quoted, strlen(quoted), &why);
	CHECK(got != NULL && strcmp(got,
	    "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}") == 0,
	    "quoted size with a leading zero");
	free(got);
	free(why);
	CHECK(schema_fingerprint(quoted, strlen(quoted), &fp, &why) == 0 &&
	    (int64_t)fp == 1756455273707447556LL, "quoted size: fingerprint");
	free(why);

	/* Only len bytes are read; the text need not end in NUL. */
	got = schema_canonical("\"int\"garbage", 5, &why);
	CHECK(got != NULL && strcmp(got, "\"int\"") == 0, "length respected");
	free(got);
	free(why);

	return CHECK_DONE();
}
