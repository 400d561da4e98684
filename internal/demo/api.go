package demo

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// Spec is the demo API's OpenAPI document, served at /api/openapi.yaml
// and written to the data directory by rampart demo.
//
//go:embed openapi.yaml
var Spec []byte

// User is a demo API user record; it deliberately holds the kinds of data
// an API must protect.
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Role       string `json:"role"`
	CardNumber string `json:"card_number"`
	SSN        string `json:"ssn"`
}

// API is the deliberately naive demo API: it trusts whoever calls it,
// returns every field it has and accepts every field it is sent. Rampart's
// job is to make it safe. It is safe for concurrent use.
type API struct {
	mu    sync.Mutex // guards users
	users map[string]*User
}

// NewAPI returns the demo API with alice, bob and carol. The card numbers
// are well-known test numbers and the SSNs fall in never-issued ranges.
func NewAPI() *API {
	return &API{users: map[string]*User{
		"alice": {ID: "alice", Name: "Alice Admin", Email: "alice@example.com", Role: "admin", CardNumber: "4111111111111111", SSN: "078-05-1120"},
		"bob":   {ID: "bob", Name: "Bob Reader", Email: "bob@example.com", Role: "reader", CardNumber: "5555555555554444", SSN: "219-09-9999"},
		"carol": {ID: "carol", Name: "Carol Reader", Email: "carol@example.com", Role: "reader", CardNumber: "378282246310005", SSN: "457-55-5462"},
	}}
}

// Handler serves the demo API's endpoints.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(Spec)
	})
	mux.HandleFunc("GET /api/users", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		list := make([]User, 0, len(a.users))
		for _, id := range []string{"alice", "bob", "carol"} {
			list = append(list, *a.users[id])
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		u, ok := a.users[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such user"})
			return
		}
		writeJSON(w, http.StatusOK, u)
	})
	mux.HandleFunc("PUT /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		var patch map[string]string
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&patch); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object of strings"})
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		u, ok := a.users[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such user"})
			return
		}
		// Naive on purpose: every field is writable, role included (mass
		// assignment).
		for k, v := range patch {
			switch k {
			case "name":
				u.Name = v
			case "email":
				u.Email = v
			case "role":
				u.Role = v
			case "card_number":
				u.CardNumber = v
			case "ssn":
				u.SSN = v
			}
		}
		writeJSON(w, http.StatusOK, u)
	})
	mux.HandleFunc("GET /api/products", func(w http.ResponseWriter, r *http.Request) {
		page := 1
		if p := r.URL.Query().Get("page"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 20 {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "page must be 1 to 20"})
				return
			}
			page = n
		}
		type product struct {
			ID    int    `json:"id"`
			Name  string `json:"name"`
			Price int    `json:"price_cents"`
		}
		items := make([]product, 0, 50)
		for i := (page-1)*50 + 1; i <= page*50; i++ {
			items = append(items, product{ID: i, Name: fmt.Sprintf("Product %d", i), Price: 100 + (i*37)%9900})
		}
		writeJSON(w, http.StatusOK, items)
	})
	mux.HandleFunc("GET /api/admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"users": len(a.users), "products": 1000})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A naive API that announces itself, for the gateway to hide.
		w.Header().Set("Server", "naive-demo/0.1")
		w.Header().Set("X-Powered-By", "demo")
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
