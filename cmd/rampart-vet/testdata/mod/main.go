package main

import (
	"database/sql"
	"net/http"
)

func main() {
	db, _ := sql.Open("none", "")
	http.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		_, _ = db.Query("SELECT * FROM users WHERE name = '" + r.FormValue("name") + "'")
	})
}
