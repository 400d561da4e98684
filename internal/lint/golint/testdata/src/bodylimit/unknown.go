package bodylimit

import (
	"io"
	"net/http"
)

// twice is registered wrapped on one mux and unwrapped on a mux handed
// in from elsewhere, which the analyzer cannot see served: that
// registration bounds nothing, so the read stays reported.
func twice(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // want `reads the request body`
	_, _ = w.Write(b)
}

func registerTwice(other *http.ServeMux) {
	mux := http.NewServeMux()
	mux.Handle("POST /a", http.MaxBytesHandler(http.HandlerFunc(twice), 1<<20))
	other.HandleFunc("POST /b", twice)
	_ = http.ListenAndServe(":8081", mux)
}
