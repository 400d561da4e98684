// Package gin is a stand-in for github.com/gin-gonic/gin declaring only
// the API the analyzers match.
package gin

import "net/http"

type H map[string]any

type HandlerFunc func(*Context)

type ResponseWriter interface {
	http.ResponseWriter
}

type Context struct {
	Request *http.Request
	Writer  ResponseWriter
}

func (c *Context) JSON(code int, obj any)         {}
func (c *Context) IndentedJSON(code int, obj any) {}
func (c *Context) ShouldBindJSON(obj any) error   { return nil }
func (c *Context) BindJSON(obj any) error         { return nil }
func (c *Context) Query(key string) string        { return "" }
func (c *Context) Param(key string) string        { return "" }
func (c *Context) PostForm(key string) string     { return "" }

type RouterGroup struct{}

func (g *RouterGroup) Group(relativePath string, handlers ...HandlerFunc) *RouterGroup {
	return g
}
func (g *RouterGroup) GET(relativePath string, handlers ...HandlerFunc)    {}
func (g *RouterGroup) POST(relativePath string, handlers ...HandlerFunc)   {}
func (g *RouterGroup) PUT(relativePath string, handlers ...HandlerFunc)    {}
func (g *RouterGroup) DELETE(relativePath string, handlers ...HandlerFunc) {}
func (g *RouterGroup) Any(relativePath string, handlers ...HandlerFunc)    {}
func (g *RouterGroup) Handle(httpMethod, relativePath string, handlers ...HandlerFunc) {
}

type Engine struct {
	RouterGroup
}

func New() *Engine     { return &Engine{} }
func Default() *Engine { return &Engine{} }

func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {}
func (e *Engine) Run(addr ...string) error                         { return nil }
