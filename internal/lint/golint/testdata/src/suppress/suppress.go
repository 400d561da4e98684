package suppress

import (
	"database/sql"
	"net/http"
)

func suppressed(db *sql.DB, r *http.Request) {
	//rampart:ignore sqlinjection the column name comes from a fixed list validated above
	_, _ = db.Query("SELECT " + r.FormValue("col") + " FROM t")
	_, _ = db.Query("SELECT " + r.FormValue("col") + " FROM t") //rampart:ignore rampart.lint.go.sqlinjection same line, full rule id
}

func notSuppressed(db *sql.DB, r *http.Request) {
	//rampart:ignore sqlinjection
	_, _ = db.Query("SELECT " + r.FormValue("col") + " FROM t") // want `SQL passed to Query`
	//rampart:ignore bodylimit wrong rule named
	_, _ = db.Query("SELECT " + r.FormValue("col") + " FROM t") // want `SQL passed to Query`
	//rampart:ignore sqlinjection too far away, two lines up

	_, _ = db.Query("SELECT " + r.FormValue("col") + " FROM t") // want `SQL passed to Query`
}
