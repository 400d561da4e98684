package contract

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

var keywordSpecs = []string{"testdata/keywords-3.0.yaml", "testdata/keywords-3.1.yaml"}

// TestSchemaKeywords runs, for each keyword enforced, a valid and an
// invalid body on both dialects.
func TestSchemaKeywords(t *testing.T) {
	cases := []struct {
		name, body string
		w          want
		only31     bool
	}{
		{"type ok", `{"typ":3}`, ok, false},
		{"type bad", `{"typ":"3"}`, badBody("/typ", "type: want integer"), false},
		{"enum ok", `{"enm":"red"}`, ok, false},
		{"enum bad", `{"enm":"blue"}`, badBody("/enm", "enum"), false},
		{"minimum ok", `{"min":1}`, ok, false},
		{"minimum bad", `{"min":0}`, badBody("/min", "minimum 1"), false},
		{"maximum ok", `{"max":10}`, ok, false},
		{"maximum bad", `{"max":11}`, badBody("/max", "maximum 10"), false},
		{"exclusiveMinimum ok", `{"exmin":0.5}`, ok, false},
		{"exclusiveMinimum bad", `{"exmin":0}`, badBody("/exmin", "exclusiveMinimum 0"), false},
		{"exclusiveMaximum ok", `{"exmax":9.9}`, ok, false},
		{"exclusiveMaximum bad", `{"exmax":10}`, badBody("/exmax", "exclusiveMaximum 10"), false},
		{"minLength ok", `{"minlen":"ab"}`, ok, false},
		{"minLength bad", `{"minlen":"a"}`, badBody("/minlen", "minLength 2"), false},
		{"maxLength ok", `{"maxlen":"abcd"}`, ok, false},
		{"maxLength bad", `{"maxlen":"abcde"}`, badBody("/maxlen", "maxLength 4"), false},
		{"maxLength counts runes", `{"maxlen":"éééé"}`, ok, false},
		{"pattern ok", `{"pat":"abc"}`, ok, false},
		{"pattern bad", `{"pat":"ABC"}`, badBody("/pat", "pattern ^[a-z]+$"), false},
		{"uuid ok", `{"uuid":"` + uuid1 + `"}`, ok, false},
		{"uuid bad", `{"uuid":"3f1c2a9e"}`, badBody("/uuid", "format uuid"), false},
		{"date-time ok", `{"dt":"2026-12-07T12:00:00Z"}`, ok, false},
		{"date-time bad", `{"dt":"yesterday"}`, badBody("/dt", "format date-time"), false},
		{"email ok", `{"email":"bob@example.com"}`, ok, false},
		{"email bad", `{"email":"bob"}`, badBody("/email", "format email"), false},
		{"uri ok", `{"uri":"https://example.com/a"}`, ok, false},
		{"uri bad", `{"uri":"not a uri"}`, badBody("/uri", "format uri"), false},
		{"int32 ok", `{"i32":2147483647}`, ok, false},
		{"int32 bad", `{"i32":2147483648}`, badBody("/i32", "format int32"), false},
		{"int64 ok", `{"i64":9007199254740991}`, ok, false},
		{"int64 bad", `{"i64":1e30}`, badBody("/i64", "format int64"), false},
		{"required ok", `{"nested":{"must":"x"}}`, ok, false},
		{"required bad", `{"nested":{}}`, badBody("/nested/must", "required"), false},
		{"additionalProperties ok", `{"nested":{"must":"x","extra":1}}`, ok, false},
		{"additionalProperties bad", `{"typ":1,"discount":100}`, badBody("/discount", "not declared"), false},
		{"additionalProperties nested bad", `{"nested":{"must":"x","deep":{"x":1}}}`, badBody("/nested/deep/x", "not declared"), false},
		{"minItems ok", `{"minitems":[1,2]}`, ok, false},
		{"minItems bad", `{"minitems":[1]}`, badBody("/minitems", "minItems 2"), false},
		{"maxItems ok", `{"maxitems":[1,2]}`, ok, false},
		{"maxItems bad", `{"maxitems":[1,2,3]}`, badBody("/maxitems", "maxItems 2"), false},
		{"uniqueItems ok", `{"unique":[1,2]}`, ok, false},
		{"uniqueItems bad", `{"unique":[1,1]}`, badBody("/unique", "uniqueItems"), false},
		{"oneOf ok", `{"one":"abc"}`, ok, false},
		{"oneOf bad", `{"one":"abcd"}`, badBody("/one", "oneOf: none matches"), false},
		{"anyOf ok", `{"any":5}`, ok, false},
		{"anyOf bad", `{"any":-5}`, badBody("/any", "anyOf: none matches"), false},
		{"allOf ok", `{"all":"abc"}`, ok, false},
		{"allOf bad", `{"all":"abcde"}`, badBody("/all", "maxLength 4"), false},
		{"null allowed", `{"nul":null}`, ok, false},
		{"null refused", `{"nonnul":null}`, badBody("/nonnul", "type: want string"), false},
		{"readOnly bad", `{"id":"x"}`, badBody("/id", "readOnly: not allowed in a request"), false},
		{"readOnly nested bad", `{"nested":{"must":"x","deep":{"ro":1}}}`, badBody("/nested/deep/ro", "readOnly: not allowed in a request"), false},
		{"writeOnly in request ok", `{"secret":"s"}`, ok, false},
		{"const ok", `{"konst":"fixed"}`, ok, true},
		{"const bad", `{"konst":"other"}`, badBody("/konst", "const"), true},
		{"malformed JSON", `{"typ":`, badBody("", "malformed JSON"), false},
		{"not an object", `[1]`, badBody("", "type: want object"), false},
	}
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		is31 := strings.Contains(spec, "3.1")
		for _, c := range cases {
			if c.only31 && !is31 {
				continue
			}
			t.Run(spec+"/"+c.name, func(t *testing.T) {
				check(t, v, req("POST", "/things", c.body), c.w)
			})
		}
	}
}

// TestNullable31 checks that nullable is not a 3.1 keyword: a 3.1 schema
// allows null only through its type.
func TestNullable31(t *testing.T) {
	v := compile(t, "testdata/keywords-3.1.yaml", Options{})
	check(t, v, req("POST", "/things", `{"nul":null}`), ok)
	check(t, v, req("POST", "/things", `{"nonnul":null}`), badBody("/nonnul", "type: want string"))
}

func TestParameterStyles(t *testing.T) {
	cases := []struct {
		name string
		r    *Request
		w    want
	}{
		{"form explode ok", req("GET", "/query?req=a&formExplode=1&formExplode=2", ""), ok},
		{"form explode bad item", req("GET", "/query?req=a&formExplode=1&formExplode=x", ""), want{400, Problem{In: "query", Name: "formExplode", Pointer: "/1", Reason: "type: want integer"}}},
		{"form explode maxItems", req("GET", "/query?req=a&formExplode=1&formExplode=2&formExplode=3&formExplode=4", ""), bad("query", "formExplode", "maxItems 3")},
		{"form csv ok", req("GET", "/query?req=a&formCsv=1,2,3", ""), ok},
		{"form csv bad", req("GET", "/query?req=a&formCsv=1,x", ""), want{400, Problem{In: "query", Name: "formCsv", Pointer: "/1", Reason: "type: want integer"}}},
		{"spaceDelimited ok", req("GET", "/query?req=a&space=1%202", ""), ok},
		{"spaceDelimited bad", req("GET", "/query?req=a&space=1%20x", ""), want{400, Problem{In: "query", Name: "space", Pointer: "/1", Reason: "type: want integer"}}},
		{"pipeDelimited ok", req("GET", "/query?req=a&pipe=1|2", ""), ok},
		{"pipeDelimited bad", req("GET", "/query?req=a&pipe=1|x", ""), want{400, Problem{In: "query", Name: "pipe", Pointer: "/1", Reason: "type: want integer"}}},
		{"deepObject ok", req("GET", "/query?req=a&deep[min]=1&deep[cur]=EUR", ""), ok},
		{"deepObject bad", req("GET", "/query?req=a&deep[min]=-1", ""), want{400, Problem{In: "query", Name: "deep", Pointer: "/min", Reason: "minimum 0"}}},
		{"deepObject pattern", req("GET", "/query?req=a&deep[cur]=eur", ""), want{400, Problem{In: "query", Name: "deep", Pointer: "/cur", Reason: "pattern ^[A-Z]{3}$"}}},
		{"form object ok", req("GET", "/query?req=a&obj=r,10,g,20", ""), ok},
		{"form object bad", req("GET", "/query?req=a&obj=r,300,g,20", ""), want{400, Problem{In: "query", Name: "obj", Pointer: "/r", Reason: "maximum 255"}}},
		{"boolean ok", req("GET", "/query?req=a&flag=true", ""), ok},
		{"boolean bad", req("GET", "/query?req=a&flag=yes", ""), bad("query", "flag", "type: want boolean")},
		{"int32 ok", req("GET", "/query?req=a&n32=2147483647", ""), ok},
		{"int32 bad", req("GET", "/query?req=a&n32=2147483648", ""), bad("query", "n32", "format int32")},
		{"date-time ok", req("GET", "/query?req=a&when=2026-12-07T12:00:00Z", ""), ok},
		{"date-time bad", req("GET", "/query?req=a&when=soon", ""), bad("query", "when", "format date-time")},
		{"required query missing", req("GET", "/query", ""), bad("query", "req", "required")},
		{"enum query bad", req("GET", "/query?req=c", ""), bad("query", "req", "enum")},
		{"simple path ok", req("GET", "/simple/1,2,3", ""), ok},
		{"simple path bad", req("GET", "/simple/1,x", ""), want{400, Problem{In: "path", Name: "ids", Pointer: "/1", Reason: "type: want integer"}}},
		{"simple path maxItems", req("GET", "/simple/1,2,3,4", ""), bad("path", "ids", "maxItems 3")},
		{"label ok", req("GET", "/label/.5", ""), ok},
		{"label bad", req("GET", "/label/.0", ""), bad("path", "v", "minimum 1")},
		{"matrix ok", req("GET", "/matrix/;v=5", ""), ok},
		{"matrix bad", req("GET", "/matrix/;v=10", ""), bad("path", "v", "maximum 9")},
		{"header ok", req("GET", "/headers", "", "X-Count", "5"), ok},
		{"header bad", req("GET", "/headers", "", "X-Count", "6"), bad("header", "X-Count", "maximum 5")},
		{"header missing", req("GET", "/headers", ""), bad("header", "X-Count", "required")},
		{"header simple array ok", req("GET", "/headers", "", "X-Count", "1", "X-Ids", uuid1+","+uuid1), ok},
		{"header simple array bad", req("GET", "/headers", "", "X-Count", "1", "X-Ids", uuid1+",nope"), want{400, Problem{In: "header", Name: "X-Ids", Pointer: "/1", Reason: "format uuid"}}},
		{"cookie ok", req("GET", "/headers", "", "X-Count", "1", "Cookie", "session=abc; theme=dark"), ok},
		{"cookie bad", req("GET", "/headers", "", "X-Count", "1", "Cookie", "session=abcdefghijk"), bad("cookie", "session", "maxLength 8")},
		{"cookie enum bad", req("GET", "/headers", "", "X-Count", "1", "Cookie", "theme=pink"), bad("cookie", "theme", "enum")},
	}
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		for _, c := range cases {
			t.Run(spec+"/"+c.name, func(t *testing.T) { check(t, v, c.r, c.w) })
		}
	}
}

func TestFormBodies(t *testing.T) {
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		form := func(body string) *Request {
			return req("POST", "/things", body, "Content-Type", "application/x-www-form-urlencoded")
		}
		mp := func(title string) *Request {
			b := "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n" + title + "\r\n--XX--\r\n"
			return req("POST", "/things", b, "Content-Type", "multipart/form-data; boundary=XX")
		}
		for _, c := range []struct {
			name string
			r    *Request
			w    want
		}{
			{"form ok", form("name=abc&count=3"), ok},
			{"form maxLength", form("name=abcdefghi"), badBody("/name", "maxLength 8")},
			{"form maximum", form("count=11"), badBody("/count", "maximum 10")},
			{"form undeclared", form("name=a&other=1"), badBody("/other", "not declared")},
			{"multipart ok", mp("hello"), ok},
			{"multipart maxLength", mp("hello world"), badBody("/title", "maxLength 8")},
		} {
			t.Run(spec+"/"+c.name, func(t *testing.T) { check(t, v, c.r, c.w) })
		}
	}
}

// TestNoValueEchoed sends values that would be recognisable in any text
// and checks that no violation carries them.
func TestNoValueEchoed(t *testing.T) {
	const secret = "S3CR3TVALUE"
	bodies := []string{
		`{"typ":"` + secret + `"}`, `{"enm":"` + secret + `"}`, `{"maxlen":"` + secret + `"}`,
		`{"pat":"` + secret + `"}`, `{"uuid":"` + secret + `"}`, `{"dt":"` + secret + `"}`,
		`{"email":"` + secret + `"}`, `{"uri":"` + secret + `"}`, `{"one":"` + secret + `"}`,
		`{"any":"` + secret + `"}`, `{"all":"` + secret + `"}`, `{"id":"` + secret + `"}`,
		`{"minitems":["` + secret + `"]}`, `{"unique":["` + secret + `","` + secret + `"]}`,
		`{"konst":"` + secret + `"}`, `{"nested":{"deep":{"ok":"` + secret + `"}}}`,
		`{"typ":1,"extra":"` + secret + `"}`, `"` + secret + `"`, `{"typ":"` + secret,
	}
	var reqs []*Request
	for _, b := range bodies {
		reqs = append(reqs, req("POST", "/things", b))
	}
	reqs = append(reqs,
		req("POST", "/things", "name="+secret+"&count="+secret, "Content-Type", "application/x-www-form-urlencoded"),
		req("GET", "/query?req="+secret+"&formExplode="+secret+"&n32="+secret+"&when="+secret+"&deep[cur]="+secret+"&flag="+secret, ""),
		req("GET", "/simple/"+secret, ""),
		req("GET", "/label/."+secret, ""),
		req("GET", "/matrix/;v="+secret, ""),
		req("GET", "/headers", "", "X-Count", secret, "X-Ids", secret, "Cookie", "session="+secret+secret+"; theme="+secret),
	)
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{Response: ResponseBlock})
		for i, r := range reqs {
			err := v.ValidateRequest(context.Background(), r)
			var viol *Violation
			if !errors.As(err, &viol) {
				t.Errorf("%s request %d: want a violation, got %v", spec, i, err)
				continue
			}
			if strings.Contains(viol.Error(), secret) {
				t.Errorf("%s request %d: violation echoes the value: %v", spec, i, viol)
			}
		}
		_, err := v.ValidateResponse(context.Background(), req("POST", "/things", "{}"), 201,
			http.Header{"Content-Type": {"application/json"}}.Values, []byte(`{"typ":"`+secret+`","extra":1}`))
		var viol *Violation
		if !errors.As(err, &viol) || strings.Contains(viol.Error(), secret) {
			t.Errorf("%s response: %v", spec, err)
		}
	}
}

func TestProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 30 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"x` + strings.Repeat("y", i) + `":1`)
	}
	b.WriteString(`}`)
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		err := v.ValidateRequest(context.Background(), req("POST", "/things", b.String()))
		var viol *Violation
		if !errors.As(err, &viol) || len(viol.Problems) != MaxProblems || !viol.Truncated {
			t.Errorf("%s: want %d problems and truncated, got %v", spec, MaxProblems, err)
		}
	}
}

func TestLongNamesCapped(t *testing.T) {
	long := strings.Repeat("k", 1000)
	v := compile(t, keywordSpecs[0], Options{})
	err := v.ValidateRequest(context.Background(), req("POST", "/things", `{"`+long+`":1}`))
	var viol *Violation
	if !errors.As(err, &viol) || len(viol.Problems) != 1 || len(viol.Problems[0].Pointer) > maxName+8 {
		t.Fatalf("got %v", err)
	}
}

func TestTooManyValues(t *testing.T) {
	body := `{"unique":[` + strings.Repeat("1,", 200) + `1]}`
	for _, spec := range keywordSpecs {
		v, err := Compile(loadSpec(t, spec), Options{MaxBodyValues: 100})
		if err != nil {
			t.Fatal(err)
		}
		check(t, v, req("POST", "/things", body), badBody("", "more than 100 values"))
		check(t, v, req("POST", "/things", `{"unique":[1,2,3]}`), ok)
	}
	if _, err := Compile(loadSpec(t, keywordSpecs[0]), Options{MaxBodyValues: -1}); err == nil {
		t.Error("negative MaxBodyValues accepted")
	}
}

func TestDeepNesting(t *testing.T) {
	body := `{"nested":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		check(t, v, req("POST", "/things", body), badBody("", "nested deeper than 64 levels"))
	}
}
