package ssrf

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
)

var upstreams = map[string]string{"billing": "https://billing.internal/api"}

func queryBad(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("url")
	resp, err := http.Get(target) // want `URL of the outbound request \(Get\) comes from the incoming request`
	if err == nil {
		resp.Body.Close()
	}
}

func formBad(w http.ResponseWriter, r *http.Request) {
	u := fmt.Sprintf("https://%s/status", r.FormValue("host"))
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil) // want `\(NewRequestWithContext\)`
	_, _ = http.DefaultClient.Do(req)
}

func pathBad(w http.ResponseWriter, r *http.Request) {
	base, _ := url.Parse("https://" + r.PathValue("host"))
	_, _ = http.DefaultClient.Get(base.String()) // want `\(Get\)`
}

type hook struct {
	Callback string `json:"callback"`
}

func bodyBad(w http.ResponseWriter, r *http.Request) {
	var h hook
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&h); err != nil {
		return
	}
	_, _ = http.Post(h.Callback, "application/json", nil) // want `\(Post\)`
}

func chiBad(w http.ResponseWriter, r *http.Request) {
	_, _ = http.NewRequest("GET", "http://"+chi.URLParam(r, "host"), nil) // want `\(NewRequest\)`
}

func ginBad(c *gin.Context) {
	_, _ = http.Head(c.Query("u")) // want `\(Head\)`
}

func allowlistGood(w http.ResponseWriter, r *http.Request) {
	target, ok := upstreams[r.URL.Query().Get("service")]
	if !ok {
		return
	}
	_, _ = http.Get(target)
}

func checkedGood(w http.ResponseWriter, r *http.Request) {
	u, err := url.Parse(r.FormValue("url"))
	if err != nil {
		return
	}
	if u.Host != "api.example.com" {
		http.Error(w, "host not allowed", http.StatusBadRequest)
		return
	}
	_, _ = http.Get(u.String())
}

func constantGood(ctx context.Context, r *http.Request) {
	id := r.PathValue("id")
	_ = id
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/items", nil)
	_, _ = http.DefaultClient.Do(req)
}
