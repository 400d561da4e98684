//go:build race

package dlp

// raceEnabled shrinks the slowest tests under the race detector.
const raceEnabled = true
