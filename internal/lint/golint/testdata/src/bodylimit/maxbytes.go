package bodylimit

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
)

// Handlers served through http.MaxBytesHandler read bounded bodies: the
// handler wrapped at its registration, or its whole router wrapped where
// a server serves it.

func upload(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // bounded at its registration
	_, _ = w.Write(b)
}

func createItem(w http.ResponseWriter, r *http.Request) {
	var v map[string]any
	_ = json.NewDecoder(r.Body).Decode(&v) // bounded: the mux is served wrapped
}

func app() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /upload", http.MaxBytesHandler(http.HandlerFunc(upload), 1<<20))
	mux.HandleFunc("POST /items", createItem)
	mux.HandleFunc("PUT /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // bounded: the mux is served wrapped
	})
	return mux
}

func serveApp() {
	srv := &http.Server{Addr: ":8080", Handler: logRequests(http.MaxBytesHandler(app(), 1<<20)), ReadHeaderTimeout: time.Second}
	_ = srv.ListenAndServe()
}

// logRequests is middleware: it serves the handler it is given.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
}

func register(mux *http.ServeMux) {
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // bounded: the mux handed here is served wrapped
	})
}

func listenWrapped() {
	mux := http.NewServeMux()
	register(mux)
	h := http.MaxBytesHandler(mux, 1<<20)
	_ = http.ListenAndServe(":8080", h)
}

func defaultMuxRead(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body) // bounded: DefaultServeMux is served wrapped
}

func listenDefault() {
	http.HandleFunc("POST /default", defaultMuxRead)
	_ = http.ListenAndServe(":8080", http.MaxBytesHandler(http.DefaultServeMux, 1<<20))
}

func chiRead(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body) // bounded: the chi router is served wrapped
}

func chiServer() *http.Server {
	r := chi.NewRouter()
	r.Route("/api", func(api chi.Router) {
		api.Post("/orders", chiRead)
	})
	srv := &http.Server{ReadHeaderTimeout: time.Second}
	srv.Handler = http.MaxBytesHandler(r, 1<<20)
	return srv
}

func ginServer() *http.Server {
	e := gin.New()
	v1 := e.Group("/v1")
	v1.POST("/users", func(c *gin.Context) {
		_, _ = io.ReadAll(c.Request.Body) // bounded: the engine is served wrapped
	})
	return &http.Server{Handler: http.MaxBytesHandler(e, 1<<20), ReadHeaderTimeout: time.Second}
}

// What is not bounded stays reported.

func both(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body) // want `io.ReadAll reads the request body without a bound`
}

func plainToo(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body) // want `io.ReadAll reads the request body without a bound`
}

func forwarded(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequest("POST", "http://127.0.0.1/x", nil)
	_, _ = io.ReadAll(req.Body) // want `io.ReadAll reads the request body without a bound`
}

func unwrappedToo() {
	wrapped := http.NewServeMux()
	wrapped.Handle("POST /both", http.MaxBytesHandler(http.HandlerFunc(both), 1<<20))
	wrapped.HandleFunc("POST /forward", forwarded)
	_ = http.ListenAndServe(":8080", http.MaxBytesHandler(wrapped, 1<<20))

	// both is also registered without a limit, on a mux served as is.
	plain := http.NewServeMux()
	plain.HandleFunc("POST /both", both)
	// plainToo's mux is served wrapped and also served as is.
	twice := http.NewServeMux()
	twice.HandleFunc("POST /p", plainToo)
	_ = http.ListenAndServe(":8080", http.MaxBytesHandler(twice, 1<<20))
	_ = http.ListenAndServe(":8081", plain)
	_ = http.ListenAndServe(":8082", twice)
}

func neverServed() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /n", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // want `io.ReadAll reads`
	})
	_ = http.MaxBytesHandler(mux, 1<<20) // wrapped, but what is served is not seen
}

func ginRun() {
	e := gin.New()
	e.POST("/x", func(c *gin.Context) {
		_, _ = io.ReadAll(c.Request.Body) // want `io.ReadAll reads`
	})
	_ = http.ListenAndServe(":8080", http.MaxBytesHandler(e, 1<<20))
	_ = e.Run(":8081") // gin serves the engine itself, unwrapped
}
