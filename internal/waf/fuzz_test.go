package waf

import (
	"context"
	"slices"
	"testing"
)

// FuzzInspect: attacker-controlled method, path, query, header and body
// never make Inspect fail or panic, and the verdict is consistent.
func FuzzInspect(f *testing.F) {
	f.Add("GET", "/api/orders/42", "page=2", "User-Agent", "curl/8", "", "")
	f.Add("POST", "/api/users", "", "Content-Type", "application/json", `{"comment":"1' UNION SELECT 1--"}`, "")
	f.Add("POST", "/api/users", "", "Content-Type", "application/json", `{"a":[[[[[[`, "")
	f.Add("POST", "/upload", "", "Content-Type", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php\r\n--x--\r\n", "")
	f.Add("POST", "/x", "", "Content-Type", "text/xml", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>`, "")
	f.Add("GET", "/%zz/../%00", "a=%&b=%u0041", "Cookie", "a=b; c", "", "HTTP/0.9")
	w := compiled(f, Options{Paranoia: 2, BodyLimit: 4096})
	f.Fuzz(func(t *testing.T, method, path, query, hname, hvalue, body, proto string) {
		r := &Request{Method: method, RawPath: path, RawQuery: query, Proto: proto, Host: "api.example.com",
			Headers: headers(hname, hvalue, "Accept", "*/*"), Body: []byte(body), HasBody: body != ""}
		v, err := w.Inspect(context.Background(), r)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if !slices.IsSorted(v.Rules) || v.Score < 0 || v.Blocked != v.Exceeded {
			t.Fatalf("inconsistent verdict %+v", v)
		}
		if v.Score >= v.Threshold && !v.Blocked {
			t.Fatalf("score %d at threshold %d not blocked", v.Score, v.Threshold)
		}
	})
}
