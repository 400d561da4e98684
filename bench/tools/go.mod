module github.com/rampart-gw/rampart/bench/tools

go 1.26.8

require (
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/valyala/fasthttp v1.78.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
)
