// Package api is the Go code of rampart lint's clean example: the notes
// API of openapi.yaml, with nothing for the Go analyzers to report.
package api

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// note is what the API stores and serves.
type note struct {
	ID   string   `json:"id"`
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

// noteInput is what a client may send: no id, no owner.
type noteInput struct {
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

type store struct {
	mu    sync.Mutex
	notes map[string]note
}

func (s *store) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n, ok := s.notes[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(n)
}

func (s *store) put(w http.ResponseWriter, r *http.Request) {
	var in noteInput
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		http.Error(w, "bad note", http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	s.notes[id] = note{ID: id, Text: in.Text, Tags: in.Tags}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Server returns the API's server, with every timeout set.
func Server(addr string) *http.Server {
	s := &store{notes: map[string]note{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /notes/{id}", s.get)
	mux.HandleFunc("PUT /notes/{id}", s.put)
	return &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
