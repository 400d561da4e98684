package scantest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// extras are the twin's inventory, business-flow, login and validation
// endpoints.
type extras struct {
	fixed bool
	token func(sub string) string

	mu       sync.Mutex // guards failures
	failures map[string]int
}

// Passwords are the twin's users' passwords, for login identities.
var Passwords = map[string]string{"alice": "alice-password-1", "bob": "bob-password-1", "carol": "carol-password-1"}

func (e *extras) register(mux *http.ServeMux, authed func(func(http.ResponseWriter, *http.Request, *user)) http.HandlerFunc) {
	orders := func(w http.ResponseWriter, _ *http.Request, me *user) {
		writeJSON(w, 200, map[string]any{"items": []any{map[string]any{"id": "o-" + me.ID, "item": "book", "quantity": 1}}})
	}
	mux.HandleFunc("GET /v2/orders", authed(orders))
	mux.HandleFunc("POST /v2/orders", authed(func(w http.ResponseWriter, _ *http.Request, me *user) {
		writeJSON(w, http.StatusCreated, map[string]any{"status": "placed", "by": me.ID})
	}))
	mux.HandleFunc("POST /login", e.login)
	mux.HandleFunc("GET /validate", authed(e.validate))
	if e.fixed {
		mux.HandleFunc("GET /legacy/export", authed(func(w http.ResponseWriter, _ *http.Request, _ *user) {
			writeJSON(w, 200, map[string]any{"rows": 0})
		}))
		return
	}
	// Vulnerable: the retired v1 still answers, a debug endpoint is
	// exposed, and the documented /legacy/export is gone.
	mux.HandleFunc("GET /v1/orders", authed(orders))
	mux.HandleFunc("GET /debug/vars", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"cmdline": []string{"/srv/api", "-db", "postgres://app@db/app"}, "memstats": map[string]int{"Alloc": 1 << 20}})
	})
}

func (e *extras) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in) != nil {
		problem(w, http.StatusBadRequest)
		return
	}
	want, known := Passwords[in.Username]
	if e.fixed {
		e.mu.Lock()
		e.failures[in.Username]++
		n := e.failures[in.Username]
		e.mu.Unlock()
		if n > 5 {
			w.Header().Set("Retry-After", "60")
			problem(w, http.StatusTooManyRequests)
			return
		}
		if !known || in.Password != want {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid credentials"})
			return
		}
	} else {
		// Vulnerable: unknown users and wrong passwords answer apart, and
		// nothing counts failures.
		if !known {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such user"})
			return
		}
		if in.Password != want {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong password"})
			return
		}
	}
	writeJSON(w, 200, map[string]string{"access_token": e.token(in.Username), "token_type": "Bearer"})
}

var emailRE = regexp.MustCompile(`^([a-z]+)+@([a-z]+)+\.[a-z]+$`)

func (e *extras) validate(w http.ResponseWriter, r *http.Request, _ *user) {
	v := r.URL.Query().Get("email")
	var ok bool
	if e.fixed {
		ok = emailRE.MatchString(v) // Go's regexp is linear in the input
	} else {
		ok = naiveEmail(v)
	}
	writeJSON(w, 200, map[string]bool{"valid": ok})
}

// naiveEmail matches ^([a-z]+)+@([a-z]+)+\.[a-z]+$ the way a backtracking
// engine does: it tries every way to split each run into groups, which is
// exponential on a near miss (the ReDoS). A step budget ends it after a
// few seconds.
func naiveEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at < 1 {
		return false
	}
	steps := 0
	var groups func(t string, rest func(string) bool) bool
	groups = func(t string, rest func(string) bool) bool {
		for i := 1; i <= len(t); i++ {
			steps++
			if steps > 1<<29 || t[i-1] < 'a' || t[i-1] > 'z' {
				return false
			}
			if rest(t[i:]) || groups(t[i:], rest) {
				return true
			}
		}
		return false
	}
	tld := func(t string) bool {
		if len(t) < 2 || t[0] != '.' {
			return false
		}
		for _, c := range t[1:] {
			if c < 'a' || c > 'z' {
				return false
			}
		}
		return true
	}
	return groups(s[:at], func(t string) bool {
		return t == "" && groups(s[at+1:], tld)
	})
}
