package store

import "time"

// ResetOutageClock forgets when the last outage was logged, so that a test
// can cause several outages in a row without waiting out outageLogEvery.
func ResetOutageClock(s *Store) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.downSince = time.Time{}
}
