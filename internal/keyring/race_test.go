//go:build race

package keyring

// raceEnabled is true under the race detector, which makes the embedded
// SQLite about fifty times slower: the large tests shrink.
const raceEnabled = true
