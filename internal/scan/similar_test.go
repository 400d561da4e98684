package scan

import (
	"os"
	"path/filepath"
	"testing"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "similar", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The BOLA judge on real pairs, recorded from the demo API bare and behind
// the gateway (testdata/similar).
func TestSameObject(t *testing.T) {
	tests := []struct {
		name               string
		own, other, attack string // attack: the attacker's own view, "" for none
		want               bool
	}{
		{"bare API: bob gets alice's record, identical", "alice-own.json", "alice-own.json", "bob-own.json", true},
		{"bare API: without the attacker's view", "alice-own.json", "alice-own.json", "", true},
		{"gateway: a 403 problem is not the object", "alice-own.json", "gateway-403.json", "bob-own.json", false},
		{"a 404 error body is not the object", "alice-own.json", "notfound.json", "", false},
		{"an API that answers with the caller's own record", "alice-own.json", "bob-own.json", "bob-own.json", false},
		{"another user's record, same shape, other values", "alice-own.json", "bob-own.json", "", false},
		{"a list is not the object", "alice-own.json", "users-list.json", "", false},
		{"the admin's filtered view of bob is bob's object", "bob-own.json", "bob-admin-view.json", "alice-own.json", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var attack []byte
			if tt.attack != "" {
				attack = read(t, tt.attack)
			}
			got, sim := SameObject(read(t, tt.own), read(t, tt.other), attack)
			if got != tt.want {
				t.Errorf("SameObject = %v (shape %.2f, values %.2f), want %v", got, sim.Structure, sim.Values, tt.want)
			}
		})
	}
}

func TestCompareText(t *testing.T) {
	s := Compare([]byte("hello world from alice"), []byte("hello world from alice"))
	if s.Values != 1 || s.Structure != 1 {
		t.Errorf("identical text: %+v", s)
	}
	if s := Compare([]byte("<html>login page</html>"), []byte(`{"id":1}`)); s.Values > 0.2 {
		t.Errorf("html vs json: %+v", s)
	}
}
