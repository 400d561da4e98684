package exposure

import (
	"encoding/json"
	"net/http"
	"respond"

	"github.com/gin-gonic/gin"
)

// User is the stored account.
type User struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash"`
}

// PublicUser is what the API shows.
type PublicUser struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Safe stores a hash but never writes it.
type Safe struct {
	ID           string `json:"id"`
	PasswordHash string `json:"-"`
}

// Order is a storage model: every column goes out.
type Order struct {
	ID    int    `db:"id" json:"id"`
	Notes string `db:"notes" json:"notes"`
}

func encodeBad(w http.ResponseWriter, r *http.Request, u *User) {
	_ = json.NewEncoder(w).Encode(u) // want `response writes the whole User as JSON, sensitive field PasswordHash included`
}

func encodeGood(w http.ResponseWriter, r *http.Request, u *User) {
	_ = json.NewEncoder(w).Encode(PublicUser{ID: u.ID, Name: u.Name})
}

func tagGood(w http.ResponseWriter, r *http.Request, s Safe) {
	_ = json.NewEncoder(w).Encode(s)
}

func marshalBad(w http.ResponseWriter, r *http.Request, us []User) {
	b, _ := json.Marshal(us)
	_, _ = w.Write(b) // want `whole User as JSON`
}

func storageBad(w http.ResponseWriter, r *http.Request, o Order) {
	enc := json.NewEncoder(w)
	_ = enc.Encode(o) // want `storage model Order \(db/gorm tags\)`
}

// writeJSON is a helper: its callers are checked.
func writeJSON(w http.ResponseWriter, v any) { // want writeJSON:"encodesJSON"
	_ = json.NewEncoder(w).Encode(v)
}

// reply calls the helper: its callers are checked too.
func reply(w http.ResponseWriter, v any) { writeJSON(w, v) } // want reply:"encodesJSON"

func helperBad(w http.ResponseWriter, r *http.Request, u *User) {
	writeJSON(w, u) // want `whole User`
	reply(w, u)     // want `whole User`
}

func otherPackageBad(w http.ResponseWriter, r *http.Request, u *User) {
	respond.JSON(w, http.StatusOK, u) // want `whole User`
}

func helperGood(w http.ResponseWriter, r *http.Request, u *User) {
	writeJSON(w, PublicUser{ID: u.ID})
	respond.JSON(w, http.StatusOK, map[string]string{"id": u.ID})
}

// toFile is not a response.
func toFile(enc *json.Encoder, u *User) { _ = enc.Encode(u) }

func ginBad(c *gin.Context, u User) {
	c.JSON(http.StatusOK, u) // want `whole User`
}

func ginGood(c *gin.Context, u User) {
	c.JSON(http.StatusOK, gin.H{"id": u.ID})
}
