package bodylimit

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

func readBad(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // want `io.ReadAll reads the request body without a bound`
	_, _ = w.Write(b)
}

func decodeBad(w http.ResponseWriter, r *http.Request) {
	var v map[string]any
	_ = json.NewDecoder(r.Body).Decode(&v) // want `json.NewDecoder reads the request body without a bound`
}

func ginBad(c *gin.Context) {
	_, _ = io.ReadAll(c.Request.Body) // want `io.ReadAll reads`
}

func readGood(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_, _ = w.Write(b)
}

func decodeGood(w http.ResponseWriter, r *http.Request) {
	var v map[string]any
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&v)
}

func boundFirst(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	b, _ := io.ReadAll(r.Body)
	_, _ = w.Write(b)
}

// notARequest reads a response body, which the server asked for.
func notARequest(resp *http.Response) {
	_, _ = io.ReadAll(resp.Body)
}
