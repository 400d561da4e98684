package dlp_test

import (
	"fmt"

	"github.com/rampart-gw/rampart/internal/dlp"
)

// A scanner finds validated values and masks them: the card passes Luhn,
// the order number beside it fails the check digit and is left alone.
func ExampleScanner_MaskString() {
	s := dlp.MustNew(dlp.Card, dlp.Email)
	masked, found := s.MaskString(`order 4012888888881882 paid with 4111 1111 1111 1111 by ann@example.com`)
	fmt.Println(masked)
	for _, f := range found {
		fmt.Println(f.Kind)
	}
	// Output:
	// order 4012888888881882 paid with **** **** **** 1111 by a***@example.com
	// card
	// email
}

// FindNamed uses the name a value belongs to: a high-entropy value under a
// key-like name is a secret, the same value under another name is not.
func ExampleScanner_FindNamedString() {
	s := dlp.MustNew()
	fmt.Println(len(s.FindNamedString("api_key", "q8Zr2LwX9vTb4NcY7mKd1PsE")))
	fmt.Println(len(s.FindNamedString("colour", "q8Zr2LwX9vTb4NcY7mKd1PsE")))
	// Output:
	// 1
	// 0
}
