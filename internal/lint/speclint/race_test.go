//go:build race

package speclint

const raceEnabled = true
