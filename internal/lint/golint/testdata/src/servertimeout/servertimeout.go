package servertimeout

import (
	"net/http"
	"time"
)

func bad(h http.Handler) {
	srv := &http.Server{Addr: ":8080", Handler: h} // want `http.Server has neither ReadHeaderTimeout nor ReadTimeout`
	_ = srv.ListenAndServe()
	_ = http.ListenAndServe(":8080", h) // want `http.ListenAndServe serves without any timeout`
}

func good(h http.Handler) {
	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	_ = srv.ListenAndServe()
	other := http.Server{Addr: ":8081", ReadTimeout: time.Minute}
	_ = other.ListenAndServe()
}

func setLater(h http.Handler) {
	srv := &http.Server{Addr: ":8080", Handler: h}
	srv.ReadHeaderTimeout = 5 * time.Second
	_ = srv.ListenAndServe()
}
