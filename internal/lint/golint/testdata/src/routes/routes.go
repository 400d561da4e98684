package routes

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
)

type api struct{}

func (a *api) getUser(w http.ResponseWriter, r *http.Request) {}

func health(w http.ResponseWriter, r *http.Request) {}

func nethttp(a *api) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", a.getUser)
	mux.Handle("POST /users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	mux.HandleFunc("/static/", health)
	mux.HandleFunc("GET example.com/{$}", health)
	http.HandleFunc("DELETE /users/{id}", a.getUser)
	pattern := "/dynamic"
	mux.HandleFunc(pattern+"/x", health) // not a constant: skipped
}

func chiRoutes() http.Handler {
	r := chi.NewRouter()
	r.Get("/health", health)
	r.Route("/api", func(r chi.Router) {
		r.Get("/items/{id:[0-9]+}", health)
		r.Route("/orders", func(o chi.Router) {
			o.Post("/", health)
		})
		r.With(nil).Put("/items/{id}", health)
		r.Method("patch", "/items/{id}", http.HandlerFunc(health))
	})
	r.Mount("/admin", adminRouter())
	sub := chi.NewRouter()
	sub.Get("/report", health)
	r.Mount("/reports", sub)
	r.Mount("/debug", http.NotFoundHandler())
	register(r.With(nil))
	return r
}

func adminRouter() chi.Router {
	r := chi.NewRouter()
	r.Delete("/users/{id}", health)
	return r
}

func register(r chi.Router) {
	r.Get("/registered", health)
}

func ginRoutes() *gin.Engine {
	e := gin.New()
	e.GET("/ping", func(c *gin.Context) {})
	v1 := e.Group("/v1")
	{
		v1.POST("/users/:id", nil, func(c *gin.Context) {})
		admin := v1.Group("/admin")
		admin.DELETE("/users/:id", func(c *gin.Context) {})
	}
	e.Handle("OPTIONS", "/files/*path", func(c *gin.Context) {})
	e.Any("/any", func(c *gin.Context) {})
	return e
}
