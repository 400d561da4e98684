package checkmod

import (
	"database/sql"
	"net/http"
)

// Handler serves the API.
func Handler(db *sql.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = db.Query("SELECT * FROM users WHERE id = " + r.PathValue("id"))
	})
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, r *http.Request) {})
	return mux
}
