package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	if d != want {
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
