package massassign

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// User is a stored account: role and balance are the server's to set.
type User struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	Balance int64  `json:"balance"`
}

// Account tags its privileged field out of JSON.
type Account struct {
	Name    string `json:"name"`
	IsAdmin bool   `json:"-"`
}

// Profile is embedded, so its fields are decoded too.
type Profile struct {
	Owner string `json:"owner_id"`
}

type Item struct {
	Profile
	Title string `json:"title"`
}

// UpdateUser is the request type: only what the client may set.
type UpdateUser struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func decodeBad(w http.ResponseWriter, r *http.Request) {
	var u User
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u) // want `request body is decoded into User, whose privileged fields Role, Balance the client can then set`
}

func decodeGood(w http.ResponseWriter, r *http.Request) {
	var u UpdateUser
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u)
}

func unmarshalBad(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	u := &User{}
	_ = json.Unmarshal(b, u) // want `decoded into User`
}

func unmarshalGood(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var a Account
	_ = json.Unmarshal(b, &a) // IsAdmin is json:"-"
}

func embeddedBad(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	var it Item
	_ = dec.Decode(&it) // want `privileged field Owner`
}

// notFromRequest decodes a file the server owns: not the client's data.
func notFromRequest(f io.Reader) {
	var u User
	_ = json.NewDecoder(f).Decode(&u)
}

func ginBad(c *gin.Context) {
	var u User
	_ = c.ShouldBindJSON(&u) // want `decoded into User`
}

func ginGood(c *gin.Context) {
	var u UpdateUser
	_ = c.BindJSON(&u)
}

// A body decoded into a map is the client's too: copying its values into
// privileged fields is mass assignment by hand.
func mapRangeBad(w http.ResponseWriter, r *http.Request, u *User) {
	var patch map[string]string
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&patch); err != nil {
		return
	}
	for k, v := range patch {
		switch k {
		case "name":
			u.Name = v
		case "role":
			u.Role = v // want `a value of the request body \(decoded into map patch\) is assigned to the privileged field User.Role`
		}
	}
}

func mapIndexBad(w http.ResponseWriter, r *http.Request, u *User) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	patch := map[string]string{}
	_ = json.Unmarshal(b, &patch)
	u.Name = patch["name"]
	u.Role = patch["role"] // want `privileged field User.Role`
}

// mapGood copies only what the client may set; decoding into a map is
// not reported by itself.
func mapGood(w http.ResponseWriter, r *http.Request, u *User) {
	var patch map[string]string
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&patch)
	for k, v := range patch {
		if k == "name" {
			u.Name = v
		}
	}
	u.Email = patch["email"]
	role := "reader"
	u.Role = role // not from the body
}

// mapNotFromRequest decodes the server's own file into a map.
func mapNotFromRequest(f io.Reader, u *User) {
	var m map[string]string
	_ = json.NewDecoder(f).Decode(&m)
	u.Role = m["role"]
}
