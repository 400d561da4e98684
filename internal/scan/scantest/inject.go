package scantest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the vulnerable twin's real SQL database
)

// injections are the twin's endpoints that take input into a database, a
// shell, the file system and an outbound request.
type injections struct {
	fixed bool
	db    *sql.DB
	dir   string // files served by /files
}

func newInjections(fixed bool) *injections {
	db, err := sql.Open("sqlite", "file::memory:?cache=shared&_pragma=busy_timeout(5000)")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT);
		DELETE FROM products;
		INSERT INTO products (name) VALUES ('apple'), ('banana'), ('cherry'), ('damson'), ('elderberry');`); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "rampart-scantest-files")
	if err != nil {
		panic(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("the twin's public file\n"), 0o600)
	return &injections{fixed: fixed, db: db, dir: dir}
}

func (in *injections) register(mux *http.ServeMux, authed func(func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc) {
	mux.HandleFunc("GET /products", authed(in.products))
	mux.HandleFunc("POST /products/search", authed(in.productSearch))
	mux.HandleFunc("GET /inventory", authed(in.inventory))
	mux.HandleFunc("POST /people/search", authed(in.peopleSearch))
	mux.HandleFunc("GET /search", authed(in.search))
	mux.HandleFunc("GET /ping", authed(in.ping))
	mux.HandleFunc("GET /files", authed(in.files))
	mux.HandleFunc("GET /preview", authed(in.preview))
}

func (in *injections) products(w http.ResponseWriter, r *http.Request, _ *user) {
	in.findProducts(w, r, r.URL.Query().Get("q"))
}

// inventory is GET /inventory with an X-Warehouse header: the same query,
// from a header.
func (in *injections) inventory(w http.ResponseWriter, r *http.Request, _ *user) {
	in.findProducts(w, r, r.Header.Get("X-Warehouse"))
}

// productSearch is POST /products/search {"q": ...}: the same query, from
// a JSON body.
func (in *injections) productSearch(w http.ResponseWriter, r *http.Request, _ *user) {
	var body struct {
		Q string `json:"q"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body) != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	in.findProducts(w, r, body.Q)
}

// peopleSearch is POST /people/search {"name": ...}; the vulnerable twin
// takes {"name": {"$ne": x}} as an operator, as a document database would.
func (in *injections) peopleSearch(w http.ResponseWriter, r *http.Request, _ *user) {
	var body struct {
		Name json.RawMessage `json:"name"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body) != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	out := []string{}
	var name string
	var op struct {
		Ne *string `json:"$ne"`
	}
	switch {
	case json.Unmarshal(body.Name, &name) == nil:
		for _, p := range people {
			if p == name {
				out = append(out, p)
			}
		}
	case !in.fixed && json.Unmarshal(body.Name, &op) == nil && op.Ne != nil:
		// Vulnerable: an object is taken as a query operator.
		for _, p := range people {
			if p != *op.Ne {
				out = append(out, p)
			}
		}
	case len(body.Name) > 0:
		problem(w, http.StatusBadRequest)
		return
	}
	writeJSON(w, 200, map[string]any{"results": out})
}

func (in *injections) findProducts(w http.ResponseWriter, r *http.Request, q string) {
	var rows *sql.Rows
	var err error
	if in.fixed {
		rows, err = in.db.QueryContext(r.Context(), "SELECT id, name FROM products WHERE name LIKE '%' || ? || '%'", q)
	} else {
		// Vulnerable: the value is pasted into the query.
		rows, err = in.db.QueryContext(r.Context(), "SELECT id, name FROM products WHERE name LIKE '%"+q+"%'") // #nosec G202 -- deliberately vulnerable test target
	}
	if err != nil {
		if in.fixed {
			problem(w, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		var id int
		var name string
		if rows.Scan(&id, &name) == nil {
			out = append(out, map[string]any{"id": id, "name": name})
		}
	}
	writeJSON(w, 200, out)
}

var people = []string{"ann", "ben", "cid", "dot", "eve"}

func (in *injections) search(w http.ResponseWriter, r *http.Request, _ *user) {
	out := []string{}
	q := r.URL.Query()
	if ne, ok := q["name[$ne]"]; ok && !in.fixed {
		// Vulnerable: a bracketed key is taken as a query operator.
		for _, p := range people {
			if p != ne[0] {
				out = append(out, p)
			}
		}
	} else {
		for _, p := range people {
			if p == q.Get("name") {
				out = append(out, p)
			}
		}
	}
	writeJSON(w, 200, map[string]any{"results": out})
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$`)

func (in *injections) ping(w http.ResponseWriter, r *http.Request, _ *user) {
	host := r.URL.Query().Get("host")
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if in.fixed {
		if !hostname.MatchString(host) {
			problem(w, http.StatusBadRequest)
			return
		}
		cmd = exec.CommandContext(ctx, "echo", "pinging", host)
	} else {
		// Vulnerable: the value goes to a shell.
		cmd = exec.CommandContext(ctx, "sh", "-c", "echo pinging "+host) // #nosec G204 -- deliberately vulnerable test target
	}
	out, _ := cmd.Output()
	writeJSON(w, 200, map[string]string{"output": strings.TrimSpace(string(out))})
}

func (in *injections) files(w http.ResponseWriter, r *http.Request, _ *user) {
	name := r.URL.Query().Get("name")
	if in.fixed && !filepath.IsLocal(name) {
		problem(w, http.StatusBadRequest)
		return
	}
	// Vulnerable without IsLocal: Join cleans ../ but still leaves the root.
	b, err := os.ReadFile(filepath.Join(in.dir, name)) // #nosec G304 -- deliberately vulnerable test target
	if err != nil {
		problem(w, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}

func (in *injections) preview(w http.ResponseWriter, r *http.Request, _ *user) {
	raw := r.URL.Query().Get("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		problem(w, http.StatusBadRequest)
		return
	}
	if in.fixed && u.Hostname() != "example.com" {
		problem(w, http.StatusBadRequest)
		return
	}
	if in.fixed {
		// The fixed twin would fetch example.com; tests never reach it.
		writeJSON(w, 200, map[string]any{"url": raw, "status": 0})
		return
	}
	// Vulnerable: fetches any URL, loopback included.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	status := 0
	if resp, err := http.DefaultClient.Do(req); err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	writeJSON(w, 200, map[string]any{"url": raw, "status": status})
}
