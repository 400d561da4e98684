// Command rampart-vet runs rampart lint's Go analyzers (package golint)
// under go vet:
//
//	go build -o rampart-vet ./cmd/rampart-vet
//	go vet -vettool=$(pwd)/rampart-vet ./...
//
// It holds no logic of its own; inventory drift against a spec needs
// rampart lint --go.
package main

import (
	"golang.org/x/tools/go/analysis/unitchecker"

	"github.com/rampart-gw/rampart/internal/lint/golint"
)

func main() { unitchecker.Main(golint.Analyzers()...) }
