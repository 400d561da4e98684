// Package respond holds a JSON response helper in another package.
package respond

import (
	"encoding/json"
	"net/http"
)

// JSON writes v as the response.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
