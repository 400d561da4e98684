package massassign

import (
	"encoding/json"
	"net/http"
)

// The common map is map[string]any: its values reach a string field
// through a type assertion, and are often read with the comma-ok form.
func mapAnyAssertBad(w http.ResponseWriter, r *http.Request, u *User) {
	var patch map[string]any
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&patch)
	u.Role = patch["role"].(string) // want `privileged field User.Role`
}

func mapCommaOkBad(w http.ResponseWriter, r *http.Request, u *User) {
	var patch map[string]string
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&patch)
	if role, ok := patch["role"]; ok {
		u.Role = role // want `privileged field User.Role`
	}
}

func mapRangeAnyBad(w http.ResponseWriter, r *http.Request, u *User) {
	var patch map[string]any
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&patch)
	for k, v := range patch {
		if k == "role" {
			u.Role, _ = v.(string) // want `privileged field User.Role`
		}
	}
}
