package sqlinjection

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
)

const table = "users"

func concatBad(db *sql.DB, r *http.Request) {
	_, _ = db.Query("SELECT * FROM users WHERE name = '" + r.FormValue("name") + "'") // want `SQL passed to Query is built with string concatenation`
}

func sprintfBad(ctx context.Context, tx *sql.Tx, id string) {
	q := fmt.Sprintf("DELETE FROM users WHERE id = %s", id)
	_, _ = tx.ExecContext(ctx, q) // want `SQL passed to ExecContext is built with fmt.Sprintf`
}

func appendBad(db *sql.DB, order string) {
	q := "SELECT id FROM users"
	q += " ORDER BY " + order
	_ = db.QueryRow(q) // want `built with string concatenation`
}

func placeholderGood(db *sql.DB, r *http.Request) {
	_, _ = db.Query("SELECT * FROM users WHERE name = $1", r.FormValue("name"))
}

func constantGood(ctx context.Context, db *sql.DB) {
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM "+table)
	q := fmt.Sprintf("SELECT id FROM %s", table)
	_, _ = db.Exec(q)
}
