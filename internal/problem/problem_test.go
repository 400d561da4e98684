package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("X-Upstream-Secret", "internal detail")
	w.Header().Set("Set-Cookie", "s=1")
	Write(w, http.StatusTooManyRequests, "limits.rate", "Slow down.", "rid-1", http.Header{"Retry-After": {"3"}})
	if w.Code != 429 || w.Header().Get("Content-Type") != ContentType || w.Header().Get("Cache-Control") != "no-store" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("headers: %d %v", w.Code, w.Header())
	}
	if w.Header().Get("X-Upstream-Secret") != "" || w.Header().Get("Set-Cookie") != "" {
		t.Error("earlier headers survived into the problem document")
	}
	var d Document
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	want := Document{Type: "about:blank", Title: "Too Many Requests", Status: 429, Detail: "Slow down.", Reason: "limits.rate", RequestID: "rid-1"}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("document %+v", d)
	}
	if w.Header().Get("Content-Length") != "" && w.Header().Get("Content-Length") != itoa(w.Body.Len()) {
		t.Errorf("Content-Length %s for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestWriteErrors(t *testing.T) {
	w := httptest.NewRecorder()
	errs := []Error{{In: "query", Parameter: "limit", Detail: "maximum 100"}, {In: "body", Pointer: "/name", Detail: "maxLength 64"}}
	WriteErrors(w, http.StatusBadRequest, "inputs.invalid", "The request does not match the API's contract.", "rid-2", nil, errs)
	var d Document
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Status != 400 || !reflect.DeepEqual(d.Errors, errs) {
		t.Errorf("document %+v", d)
	}
	want := `"errors":[{"in":"query","parameter":"limit","detail":"maximum 100"},{"in":"body","pointer":"/name","detail":"maxLength 64"}]`
	if !strings.Contains(w.Body.String(), want) {
		t.Errorf("body %s lacks %s", w.Body.String(), want)
	}
	w = httptest.NewRecorder()
	Write(w, http.StatusForbidden, "x", "y", "", nil)
	if strings.Contains(w.Body.String(), "errors") {
		t.Errorf("a document without errors has the member: %s", w.Body.String())
	}
}
