// Package gocode is Go API code for TestLintGolden: an SQL query built
// from a path parameter, a route the spec does not declare, a server
// without timeouts.
package gocode

import (
	"database/sql"
	"net/http"
)

// Handler serves the users API of combined-openapi.yaml.
func Handler(db *sql.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = db.Query("SELECT name FROM users WHERE id = " + r.PathValue("id"))
	})
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}

// Serve listens on addr.
func Serve(addr string, db *sql.DB) error {
	return http.ListenAndServe(addr, Handler(db))
}
