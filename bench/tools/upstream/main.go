// Command upstream is the benchmark's origin server: a plain net/http server
// that answers every GET with the same small JSON body, and every POST
// (its body read, up to 1 MiB) with 201 and that body.
//
// GET /_bench/conns answers the number of connections accepted so far, so
// the harness can see whether a proxy reuses its upstream connections.
//
// GET /_bench/pii/... answers a larger (~1 KiB) JSON customer record with a
// plaintext "ssn" and a card number instead, for the rampart-protect row
// (whose upstream URL carries that prefix); every other path gets body.
package main

import (
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// body is 150 bytes, a typical small API response.
var body = []byte(`{"id":42,"name":"widget","price":19.99,"currency":"EUR","tags":["bench","rampart"],"in_stock":true,"updated":"2025-01-01T00:00:00Z","owner":"u-1234"}` + "\n")

// piiBody is about 1 KiB: the record of body plus a customer with a
// plaintext SSN and one card number, which DLP and the field rules act on.
var piiBody = []byte(`{"id":42,"name":"widget","price":19.99,"currency":"EUR","tags":["bench","rampart"],"in_stock":true,` +
	`"updated":"2025-01-01T00:00:00Z","owner":"u-1234","customer":{"id":"c-98765","first_name":"Jane","last_name":"Doe",` +
	`"plan":"premium","since":"2019-06-15","locale":"en-GB","address":{"line1":"221B Baker Street","line2":"Flat 2",` +
	`"city":"London","postcode":"NW1 6XE","country":"GB"},"preferences":{"newsletter":false,"sms":true,"language":"en",` +
	`"timezone":"Europe/London"}},"ssn":"123-45-6789","payment":{"method":"card","card_number":"4111 1111 1111 1111",` +
	`"holder":"JANE DOE","expiry":"12/29","billing_postcode":"NW1 6XE"},"order":{"number":"ORD-2025-000042",` +
	`"status":"shipped","placed":"2025-01-01T09:30:00Z","lines":[{"sku":"WID-001","description":"Standard widget",` +
	`"qty":2,"unit_price":19.99},{"sku":"WID-002","description":"Widget mounting kit","qty":1,"unit_price":7.5}],` +
	`"subtotal":47.48,"shipping":4.95,"total":52.43},"notes":"Leave the parcel with the concierge if nobody answers.",` +
	`"audit":{"created_by":"svc-orders","created_at":"2025-01-01T09:30:01Z","version":7}}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	n := strconv.Itoa(len(body))
	piiN := strconv.Itoa(len(piiBody))
	var accepted atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			// Read the whole body, as an API would, but never more than 1 MiB.
			if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
				http.Error(w, "reading the body: "+err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			status = http.StatusCreated
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/_bench/conns" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strconv.FormatInt(accepted.Load(), 10) + "\n"))
			return
		}
		b, bn := body, n
		if strings.HasPrefix(r.URL.Path, "/_bench/pii/") {
			b, bn = piiBody, piiN
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Content-Length", bn)
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write(b)
		}
	})
	srv := &http.Server{
		Addr:    *addr,
		Handler: h,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		},
	}
	log.Fatal(srv.ListenAndServe())
}
