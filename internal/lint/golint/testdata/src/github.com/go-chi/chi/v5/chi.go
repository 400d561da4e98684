// Package chi is a stand-in for github.com/go-chi/chi/v5 declaring only
// the API the analyzers match.
package chi

import "net/http"

type Router interface {
	http.Handler
	Use(middlewares ...func(http.Handler) http.Handler)
	With(middlewares ...func(http.Handler) http.Handler) Router
	Group(fn func(r Router)) Router
	Route(pattern string, fn func(r Router)) Router
	Mount(pattern string, h http.Handler)
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h http.HandlerFunc)
	Method(method, pattern string, h http.Handler)
	MethodFunc(method, pattern string, h http.HandlerFunc)
	Connect(pattern string, h http.HandlerFunc)
	Delete(pattern string, h http.HandlerFunc)
	Get(pattern string, h http.HandlerFunc)
	Head(pattern string, h http.HandlerFunc)
	Options(pattern string, h http.HandlerFunc)
	Patch(pattern string, h http.HandlerFunc)
	Post(pattern string, h http.HandlerFunc)
	Put(pattern string, h http.HandlerFunc)
	Trace(pattern string, h http.HandlerFunc)
}

type Mux struct{ Router }

func NewRouter() *Mux { return &Mux{} }

func (mx *Mux) Get(pattern string, h http.HandlerFunc)  {}
func (mx *Mux) Post(pattern string, h http.HandlerFunc) {}
func (mx *Mux) Route(pattern string, fn func(r Router)) Router {
	return nil
}
func (mx *Mux) Mount(pattern string, h http.Handler) {}
func (mx *Mux) With(middlewares ...func(http.Handler) http.Handler) Router {
	return nil
}

func URLParam(r *http.Request, key string) string { return "" }
